"""The morning digest: a staff member's leader contacts for one working day, in one message.

It is worked out at the moment of sending from the courses' current contact points and the
courses' current consent, so a point completed a minute before is not in it, and each line says
what the consent of its course allows now (phone the leader, or discuss consent first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from shared.calendar import WorkingDayCalendar
from shared.events import ConsentState, ContactKind

Section = Literal["due_today", "overdue", "waiting_for_consent", "upcoming", "team_overdue"]
SECTIONS: tuple[Section, ...] = ("due_today", "overdue", "waiting_for_consent", "upcoming",
                                 "team_overdue")
Action = Literal["call_leader", "discuss_consent", "hold_meeting", "review_plan"]
LEADER_CONTACT_KINDS: frozenset[ContactKind] = frozenset({"start_call", "follow_up",
                                                          "end_contact"})
UPCOMING_WORKING_DAYS = 5


@dataclass(frozen=True)
class OpenPoint:
    """A contact point that is not completed or cancelled; `blocked` when the scheduler holds
    it back for want of the employee's consent."""

    point_id: str
    kind: ContactKind
    due_from: date
    due_by: date
    blocked: bool = False


@dataclass(frozen=True)
class CourseContacts:
    """Who looks after a course, and its open contact points."""

    course_id: str
    psychologist_id: str | None
    team_lead_id: str | None
    points: tuple[OpenPoint, ...]


@dataclass(frozen=True)
class DigestLine:
    section: Section
    course_id: str
    kind: ContactKind
    action: Action
    due_by: date
    overdue_working_days: int = 0
    psychologist_id: str | None = None


@dataclass(frozen=True)
class Digest:
    recipient_id: str
    day: date
    lines: tuple[DigestLine, ...]

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def section(self, name: Section) -> list[DigestLine]:
        return [line for line in self.lines if line.section == name]


def digest_id(recipient_id: str, day: date) -> str:
    """One digest per person per day: a restart around the moment finds the same id."""
    return f"digest:{recipient_id}:{day.isoformat()}"


def _allowed(kind: ContactKind, consent: ConsentState) -> bool:
    if kind in LEADER_CONTACT_KINDS:
        return consent.allows_leader_contact
    if kind == "three_party_meeting":
        return consent.allows_three_party_meeting
    return True


def _action(kind: ContactKind) -> Action:
    if kind == "three_party_meeting":
        return "hold_meeting"
    if kind == "plan_review":
        return "review_plan"
    return "call_leader"


def classify(point: OpenPoint, consent: ConsentState, day: date, horizon: date,
             calendar: WorkingDayCalendar) -> tuple[Section, Action, int] | None:
    """Where a point stands on `day`: waiting for consent (held back by the scheduler or by
    the course's consent as it is now), overdue (its last day has passed), due today, or coming
    before `horizon`; None when it is further away."""
    if point.due_from > horizon:
        return None
    if point.blocked or not _allowed(point.kind, consent):
        return "waiting_for_consent", "discuss_consent", 0
    if point.due_by < day:
        return "overdue", _action(point.kind), calendar.working_days_between(point.due_by, day)
    if point.due_from <= day:
        return "due_today", _action(point.kind), 0
    return "upcoming", _action(point.kind), 0


def build_digest(recipient_id: str, day: date, courses: Iterable[CourseContacts],
                 consent_of: Callable[[str], ConsentState | None],
                 calendar: WorkingDayCalendar) -> Digest:
    """A person's digest: for the courses they are the psychologist of, what is due today,
    overdue, waiting for consent and coming in the next five working days; for the courses of
    their team (they are its team lead, someone else its psychologist), every overdue point.
    A course that names them in neither role contributes nothing, whatever it is given."""
    horizon = calendar.add_working_days(day, UPCOMING_WORKING_DAYS)
    lines: list[DigestLine] = []
    for course in courses:
        own = course.psychologist_id == recipient_id
        team = not own and course.team_lead_id == recipient_id
        if not (own or team):
            continue
        consent = consent_of(course.course_id) or ConsentState()
        for point in course.points:
            placed = classify(point, consent, day, horizon, calendar)
            if placed is None:
                continue
            section, action, days = placed
            if team:
                if section != "overdue":
                    continue
                section = "team_overdue"
            lines.append(DigestLine(section, course.course_id, point.kind, action, point.due_by,
                                    days, course.psychologist_id))
    lines.sort(key=lambda line: (SECTIONS.index(line.section), line.due_by, line.course_id,
                              line.kind))
    return Digest(recipient_id, day, tuple(lines))
