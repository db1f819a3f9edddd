"""The figures, one table: what each one counts, its labels, and how it is computed from the
courses of one cell (a period and an organisation unit, or a psychologist)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.reporting.domain.facts import CourseFacts
from shared.calendar import WorkingDayCalendar

FigureKind = Literal["count", "percent", "median", "mean"]
Value = int | float | None


@dataclass(frozen=True)
class Rules:
    """What the figures measure against: the calendar, the deadlines (as the contact policy's
    defaults) and the day the report is made (a start call not yet due is not yet late)."""

    calendar: WorkingDayCalendar
    as_of: date
    start_call_working_days: int = 2
    end_contact_working_days: int = 5


@dataclass(frozen=True)
class Derived:
    """One course's contribution to every figure, worked out once however many cells it is in."""

    stress_related: bool
    sick_leave: bool
    referral_to_start: int | None
    start_call_decided: bool
    start_call_on_time: bool
    start_call_working_days: int | None
    end_contact_decided: bool
    end_contact_done: bool
    follow_ups: int
    consent: bool
    three_party_wished: bool
    three_party_held: bool
    return_to_work_plan: bool
    retention_plan: bool


def derive(facts: CourseFacts, rules: Rules) -> Derived:
    assert facts.start_date is not None and facts.referred_on is not None
    cal = rules.calendar
    due = facts.start_call_due_by or cal.add_working_days(facts.start_date,
                                                          rules.start_call_working_days)
    done = facts.start_call_done_on
    ended = facts.end_date is not None and facts.end_date <= rules.as_of
    end_due = facts.end_contact_due_by or (
        cal.add_working_days(facts.end_date, rules.end_contact_working_days)
        if facts.end_date else None)
    end_done = facts.end_contact_done_on is not None
    return Derived(
        stress_related=bool(facts.stress_related),
        sick_leave=bool(facts.sick_leave_at_referral),
        referral_to_start=cal.working_days_between(facts.referred_on, facts.start_date)
        if facts.start_date >= facts.referred_on else 0,
        start_call_decided=done is not None or due < rules.as_of,
        start_call_on_time=done is not None and done <= due,
        start_call_working_days=cal.working_days_between(facts.start_date, done)
        if done is not None and done >= facts.start_date else (0 if done is not None else None),
        end_contact_decided=ended and (end_done or (end_due is not None and end_due < rules.as_of)),
        end_contact_done=ended and end_done,
        follow_ups=facts.follow_ups,
        consent=facts.leader_contact_consent,
        three_party_wished=facts.three_party_wished,
        three_party_held=facts.three_party_held,
        return_to_work_plan=facts.return_to_work_plan,
        retention_plan=facts.retention_plan,
    )


# (value, number of courses the value was computed from)
Compute = Callable[[Sequence[Derived]], tuple[Value, int]]


def _count(pick: Callable[[Derived], bool]) -> Compute:
    return lambda cs: (sum(1 for c in cs if pick(c)), len(cs))


def _percent(pick: Callable[[Derived], bool], among: Callable[[Derived], bool] | None = None
             ) -> Compute:
    def compute(cs: Sequence[Derived]) -> tuple[Value, int]:
        base = [c for c in cs if among is None or among(c)]
        if not base:
            return None, 0
        return round(100 * sum(1 for c in base if pick(c)) / len(base), 1), len(base)
    return compute


def _median(pick: Callable[[Derived], int | None]) -> Compute:
    def compute(cs: Sequence[Derived]) -> tuple[Value, int]:
        values = [v for c in cs if (v := pick(c)) is not None]
        if not values:
            return None, 0
        return float(statistics.median(values)), len(values)
    return compute


def _mean(pick: Callable[[Derived], int]) -> Compute:
    def compute(cs: Sequence[Derived]) -> tuple[Value, int]:
        if not cs:
            return None, 0
        return round(sum(pick(c) for c in cs) / len(cs), 2), len(cs)
    return compute


@dataclass(frozen=True)
class Figure:
    id: str
    da: str
    en: str
    kind: FigureKind
    compute: Compute
    team_lead: bool = False  # also in the team lead's table per psychologist


FIGURES: tuple[Figure, ...] = (
    Figure("courses_started", "Forløb startet", "Courses started", "count",
           lambda cs: (len(cs), len(cs)), team_lead=True),
    Figure("stress_related_pct", "Stressrelaterede (%)", "Stress-related (%)", "percent",
           _percent(lambda c: c.stress_related)),
    Figure("sick_leave_pct", "Sygemeldt ved henvisning (%)", "On sick leave at referral (%)",
           "percent", _percent(lambda c: c.sick_leave)),
    Figure("referral_to_start_median", "Arbejdsdage fra henvisning til start (median)",
           "Working days from referral to start (median)", "median",
           _median(lambda c: c.referral_to_start)),
    Figure("start_call_on_time_pct", "Opstartssamtale med leder til tiden (%)",
           "Start call on time (%)", "percent",
           _percent(lambda c: c.start_call_on_time, among=lambda c: c.start_call_decided),
           team_lead=True),
    Figure("start_call_median", "Arbejdsdage til opstartssamtale (median)",
           "Working days to the start call (median)", "median",
           _median(lambda c: c.start_call_working_days), team_lead=True),
    Figure("end_contact_done_pct", "Afslutning med leder gennemført (%)",
           "End contact done (%)", "percent",
           _percent(lambda c: c.end_contact_done, among=lambda c: c.end_contact_decided),
           team_lead=True),
    Figure("follow_ups_per_course", "Opfølgninger pr. forløb", "Follow-ups per course", "mean",
           _mean(lambda c: c.follow_ups), team_lead=True),
    Figure("consent_pct", "Samtykke til ledersamtale (%)", "Consent to leader contact (%)",
           "percent", _percent(lambda c: c.consent)),
    Figure("three_party_wished", "Trepartssamtaler ønsket", "Three-party meetings wished",
           "count", _count(lambda c: c.three_party_wished)),
    Figure("three_party_held", "Trepartssamtaler holdt", "Three-party meetings held", "count",
           _count(lambda c: c.three_party_held)),
    Figure("return_to_work_plans", "Tilbagevendelsesplaner", "Return-to-work plans", "count",
           _count(lambda c: c.return_to_work_plan)),
    Figure("retention_plans", "Fastholdelsesplaner", "Retention plans", "count",
           _count(lambda c: c.retention_plan)),
)
FIGURE_BY_ID = {f.id: f for f in FIGURES}
CASELOAD = Figure("caseload", "Åbne forløb ved periodens slut", "Open courses at period end",
                  "count", lambda cs: (len(cs), len(cs)), team_lead=True)
TEAM_LEAD_FIGURES: tuple[Figure, ...] = (*(f for f in FIGURES if f.team_lead), CASELOAD)


def open_on(facts: CourseFacts, day: date) -> bool:
    """A course is on a psychologist's caseload from its start until its end date."""
    return (facts.counted and facts.start_date is not None and facts.start_date <= day
            and (facts.end_date is None or facts.end_date > day))
