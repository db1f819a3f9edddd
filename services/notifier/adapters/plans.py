"""The open contact points of every course, read from the scheduler's plan changelog.

The digest needs every course of one psychologist at once, and a psychologist's courses lie
in every partition. The scheduler's plan changelog is compacted and holds each course's whole
current plan, so a view of all of it is complete at any age; `contact-points` is a stream with
a retention time, and a plan review months ahead would have left it. Only the fields the digest
needs are read, and anything else the plan carries is ignored, so the scheduler can add to its
record without breaking this reader.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from services.notifier.adapters.views import GlobalView
from services.notifier.domain.digest import CourseContacts, OpenPoint
from shared.events import ContactKind, EventDecodeError

OPEN_STATES = frozenset({"scheduled", "due", "overdue", "blocked_no_consent"})


class _Point(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    point_id: str
    kind: ContactKind
    due_from: date
    due_by: date
    state: str


class _Plan(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    course_id: str
    psychologist_id: str | None = None
    team_lead_id: str | None = None
    points: dict[str, _Point] = {}


def course_contacts(raw: bytes) -> CourseContacts | None:
    """A plan record as the digest sees it; None (forget the course) once nothing is open."""
    try:
        plan = _Plan.model_validate_json(raw)
    except ValidationError as exc:
        raise EventDecodeError(f"unreadable plan record: {exc.error_count()} errors") from None
    points = tuple(OpenPoint(p.point_id, p.kind, p.due_from, p.due_by,
                             p.state == "blocked_no_consent")
                   for p in plan.points.values() if p.state in OPEN_STATES)
    if not points:
        return None
    return CourseContacts(plan.course_id, plan.psychologist_id, plan.team_lead_id, points)


def plans_view(topic: str, kafka_kwargs: dict[str, Any]) -> GlobalView[CourseContacts]:
    return GlobalView(topic, kafka_kwargs, course_contacts)
