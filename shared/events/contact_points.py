from __future__ import annotations

from datetime import date
from typing import Literal

from shared.events.course import ContactKind
from shared.events.envelope import Event
from shared.events.fields import LongId
from shared.events.people import PersonId

ContactPointState = Literal[
    "scheduled", "due", "overdue", "completed", "cancelled", "blocked_no_consent"
]


class _ContactPointChange(Event):
    contact_point_id: LongId
    kind: ContactKind
    due_from: date
    due_by: date
    psychologist_id: PersonId | None = None
    late: bool = False


class ContactPointScheduled(_ContactPointChange):
    type: Literal["contact_point.scheduled"] = "contact_point.scheduled"


class ContactPointDue(_ContactPointChange):
    type: Literal["contact_point.due"] = "contact_point.due"


class ContactPointOverdue(_ContactPointChange):
    type: Literal["contact_point.overdue"] = "contact_point.overdue"


class ContactPointCompleted(_ContactPointChange):
    type: Literal["contact_point.completed"] = "contact_point.completed"


class ContactPointCancelled(_ContactPointChange):
    type: Literal["contact_point.cancelled"] = "contact_point.cancelled"


class ContactPointBlocked(_ContactPointChange):
    type: Literal["contact_point.blocked"] = "contact_point.blocked"
    reason: Literal["no_consent"] = "no_consent"


CONTACT_POINT_EVENTS: dict[ContactPointState, type[_ContactPointChange]] = {
    "scheduled": ContactPointScheduled,
    "due": ContactPointDue,
    "overdue": ContactPointOverdue,
    "completed": ContactPointCompleted,
    "cancelled": ContactPointCancelled,
    "blocked_no_consent": ContactPointBlocked,
}
