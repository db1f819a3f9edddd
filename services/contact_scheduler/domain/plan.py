"""The contact plan of one course: its contact points, their states and their timers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import ContactKind, ContactPointState, MeetingKind
from shared.open_points import OpenPoint, OpenPoints

Stage = Literal["due", "overdue", "escalated", "consent_due", "consent_overdue"]
APPLIED_EVENTS = 100
OPEN_STATES: frozenset[ContactPointState] = frozenset(
    {"scheduled", "due", "overdue", "blocked_no_consent"})


class ContactPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    point_id: str
    kind: ContactKind
    due_from: date
    due_by: date
    state: ContactPointState = "scheduled"
    fired: tuple[Stage, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class Meeting(BaseModel):
    """A meeting as it stands in the calendars: each change counts its version up (SEQUENCE),
    so a calendar replaces what it holds with the newer one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: MeetingKind
    starts_at: datetime
    minutes: int
    sequence: int = 0
    cancelled: bool = False


class CoursePlan(BaseModel):
    """Everything the scheduler knows of a course; the value of its changelog record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    course_id: str
    status: Literal["pending", "open", "ended", "cancelled"] = "pending"
    employee_id: str | None = None
    leader_id: str | None = None
    psychologist_id: str | None = None
    team_lead_id: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    # When the course ended or was cancelled, as the scheduler saw it: its state is kept for a
    # while after that, then tombstoned.
    closed_at: datetime | None = None
    leader_contact_consent: bool = False
    three_party_consent: bool = False
    consent_seen: bool = False
    points: dict[str, ContactPoint] = Field(default_factory=dict)
    next_fire_at: datetime | None = None
    meetings: dict[str, Meeting] = Field(default_factory=dict)
    # Ids of the latest events that changed this plan: a repeat of one (a producer's retry, a
    # double submit) is recognised and changes nothing.
    applied: tuple[str, ...] = ()

    @property
    def closed_since(self) -> datetime | None:
        """Since when the course is closed; a plan closed before the moment was recorded counts
        from its end date."""
        if self.status not in ("ended", "cancelled"):
            return None
        if self.closed_at is None and self.end_date is not None:
            return datetime.combine(self.end_date, time(), UTC)
        return self.closed_at

    def with_point(self, point: ContactPoint) -> CoursePlan:
        return self.model_copy(update={"points": {**self.points, point.point_id: point}})

    def has_applied(self, event_id: str) -> bool:
        return event_id in self.applied

    def with_applied(self, event_id: str) -> CoursePlan:
        """Remembers the event, and only the latest APPLIED_EVENTS of them: a repeat comes
        within seconds or minutes, not hundreds of events later."""
        return self.model_copy(update={"applied": (*self.applied, event_id)[-APPLIED_EVENTS:]})


def open_points(plan: CoursePlan | None) -> OpenPoints | None:
    """What the morning digest lists of a course: its open points by id and date; None once
    none is open."""
    if plan is None:
        return None
    points = tuple(OpenPoint(point_id=p.point_id, kind=p.kind, due_from=p.due_from,
                             due_by=p.due_by, blocked=p.state == "blocked_no_consent")
                   for p in plan.points.values() if p.is_open)
    return OpenPoints(course_id=plan.course_id, points=points) if points else None
