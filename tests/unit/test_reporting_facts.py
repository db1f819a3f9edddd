"""Course facts: what each event adds, corrections, repeats, and what is never kept."""

from __future__ import annotations

import ast
from datetime import date, datetime, timedelta, timezone
from functools import reduce
from pathlib import Path

from services.reporting.domain.facts import (
    CourseFacts,
    apply_event,
    apply_referral,
    from_referral,
)
from services.reporting.domain.orgunits import OrgUnits
from services.reporting.domain.periods import Period
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    ContactPointScheduled,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Event,
    LeaderContactLogged,
    PlanSet,
)
from tests.samples import AT, referral

ORG = OrgUnits.from_toml((Path(__file__).parents[2] / "config" / "org-units.toml").read_text())
C = {"occurred_at": AT, "course_id": "c-1"}


def fold(events: list[Event], start: CourseFacts | None = None) -> CourseFacts | None:
    return reduce(lambda f, e: apply_event(f, e) or f, events, start)


def started(start: date = date(2026, 11, 26)) -> CourseStarted:
    return CourseStarted(**C, referral_id="r-1", employee_id="e-1", leader_id="l-1",
                         psychologist_id="psy-1", start_date=start,
                         employee_consents_to_leader_contact=True)


def test_a_referral_keeps_its_unit_reason_and_sick_leave_but_no_names() -> None:
    facts = from_referral(referral(unit="  skoler øst "), "c-1", ORG.lookup())
    assert (facts.unit, facts.stress_related, facts.sick_leave_at_referral) == \
        ("Skoler Øst", True, False)
    dumped = facts.model_dump_json()
    for personal in ("Emma", "Lars", "emma@", "+4520304050", "Kommunen", "r-1"):
        assert personal not in dumped


def test_a_unit_typed_by_hand_is_kept_only_as_other() -> None:
    facts = from_referral(referral(unit="Kantinen hos Bent"), "c-1", ORG.lookup())
    assert facts.unit == "other"
    assert ORG.administration_of("other") == "other"
    assert ORG.administration_of("Skoler Øst") == "Børne- og Ungeforvaltningen"


def test_the_course_events_fill_in_the_facts() -> None:
    at = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
    state = ConsentState(leader_contact=ConsentStatement(agreed=False, as_of=at),
                         three_party={"employee": ConsentStatement(agreed=True, as_of=at)})
    facts = fold([
        started(),
        ContactPointScheduled(**C, contact_point_id="start_call", kind="start_call",
                              due_from=date(2026, 11, 26), due_by=date(2026, 11, 30)),
        LeaderContactLogged(**C, contact_kind="start_call", at=at),
        ConsentRecorded(**C, state=state),
        PlanSet(**C, plan_id="p", plan_kind="retention", review_date=date(2027, 1, 4)),
        CourseEnded(**C, end_date=date(2027, 1, 15)),
    ])
    assert facts is not None
    assert facts.start_call_due_by == date(2026, 11, 30)
    assert facts.start_call_done_on == date(2026, 11, 27)
    assert not facts.leader_contact_consent and facts.three_party_wished
    assert facts.retention_plan and not facts.return_to_work_plan
    assert facts.end_date == date(2027, 1, 15)


def test_a_referral_and_its_course_meet_in_either_order() -> None:
    referral_facts = from_referral(referral(unit="IT"), "c-1", ORG.lookup())
    first = apply_referral(fold([started()]), referral_facts)
    second = fold([started()], apply_referral(None, referral_facts))
    assert first == second and first.unit == "IT" and first.counted


def test_a_corrected_start_date_moves_the_course() -> None:
    facts = fold([started(date(2026, 11, 26)), started(date(2026, 12, 1))])
    assert facts is not None and facts.start_date == date(2026, 12, 1)
    assert Period.parse("2026-12").contains(facts.start_date)


def test_a_follow_up_delivered_twice_counts_once() -> None:
    follow_up = LeaderContactLogged(**C, contact_kind="follow_up", at=AT)
    facts = fold([started(), follow_up, follow_up,
                  LeaderContactLogged(**C, contact_kind="follow_up", at=AT)])
    assert facts is not None and facts.follow_ups == 2


def test_an_event_that_changes_nothing_writes_nothing() -> None:
    facts = fold([started()])
    assert apply_event(facts, started()) is None


def test_a_cancelled_course_is_not_counted() -> None:
    facts = fold([started(), CourseCancelled(**C, reason="referral_withdrawn")])
    assert facts is not None and not facts.counted


def test_facts_are_deleted_three_years_after_the_course_ends() -> None:
    facts = CourseFacts(course_id="c", end_date=date(2026, 11, 30))
    retention = timedelta(days=3 * 365 + 1)
    assert not facts.expired(date(2029, 11, 30), retention)
    assert facts.expired(date(2029, 12, 1), retention)
    assert not CourseFacts(course_id="open").expired(date(2040, 1, 1), retention)


def test_the_reporting_domain_imports_no_io_library() -> None:
    forbidden = {"aiokafka", "faststream", "httpx", "aiosmtplib", "socket", "asyncio"}
    for path in (Path(__file__).parents[2] / "services" / "reporting" / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not {n.split(".")[0] for n in names} & forbidden, path.name


def test_periods_parse_and_add_up() -> None:
    assert str(Period.parse("2026-11")) == "2026-11"
    assert Period.parse("2026-q4").parts == tuple(Period.parse(f"2026-{m}") for m in
                                                  ("10", "11", "12"))
    assert Period.parse("2026").last_day == date(2026, 12, 31)
    assert Period.parse("2028-Q1").last_day == date(2028, 3, 31)


def test_a_course_cancelled_because_its_employee_was_erased_keeps_no_health_facts() -> None:
    from services.reporting.domain.facts import fold_event

    facts = apply_referral(fold([started()]), from_referral(referral(), "c-1", ORG.lookup()))
    assert facts.stress_related is True
    erased = fold_event(facts, CourseCancelled(**C, reason="person_erased"))
    assert erased is not None and erased.erased
    assert (erased.stress_related, erased.sick_leave_at_referral, erased.unit,
            erased.psychologist_id, erased.start_date) == (None, None, None, None, None)
    assert not erased.counted and erased.expired(AT.date() + timedelta(days=2), timedelta(days=1))
    # Nothing read later (a late referral's facts, another event) brings any of them back.
    assert apply_referral(erased, from_referral(referral(), "c-1", ORG.lookup())) == erased
    assert fold_event(erased, started()) is None
    # A withdrawn referral's cancellation is no erasure: the facts stay, uncounted.
    withdrawn = fold_event(facts, CourseCancelled(**C, reason="referral_withdrawn"))
    assert withdrawn is not None and withdrawn.stress_related is True and not withdrawn.erased
