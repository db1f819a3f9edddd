"""The events a course's plan sends: contact-point changes and notification requests, each with
an id that follows from what it says, so a repeated step repeats the very same event."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

from services.contact_scheduler.domain.plan import ContactPoint, CoursePlan
from shared.events import (
    CONTACT_POINT_EVENTS,
    ContactPointState,
    Event,
    NotificationFacts,
    NotificationKind,
    NotificationRequested,
    RecipientRole,
)
from shared.notification_kinds import required_consent

_NS = uuid5(NAMESPACE_URL, "https://lederkontakt/scheduler")


def point_changed(plan: CoursePlan, point: ContactPoint, state: ContactPointState,
                  now: datetime, late: bool = False) -> Event:
    """A contact point's new state, as the stream of contact points tells it."""
    cls = CONTACT_POINT_EVENTS[state]
    seq = f"{plan.course_id}/{point.point_id}/{state}/{'.'.join(point.fired)}"
    return cls(event_id=uuid5(_NS, seq), occurred_at=now, course_id=plan.course_id,
               contact_point_id=point.point_id, kind=point.kind, due_from=point.due_from,
               due_by=point.due_by, psychologist_id=plan.psychologist_id, late=late)


def notification(plan: CoursePlan, suffix: str, kind: NotificationKind, recipient: str,
                 role: RecipientRole, now: datetime, late: bool = False,
                 **facts: object) -> NotificationRequested:
    """A request to tell `recipient` something about the course, with the consent the kind
    catalogue says a message of that kind to that role needs."""
    notification_id = f"{plan.course_id}:{suffix}"
    requires = required_consent(kind, role)
    if requires is None:
        raise ValueError(f"{kind} is never sent to a {role}")
    return NotificationRequested(
        event_id=uuid5(_NS, notification_id), occurred_at=now, course_id=plan.course_id,
        notification_id=notification_id, kind=kind, recipient_id=recipient,
        recipient_role=role, about_employee_id=plan.employee_id,
        psychologist_id=plan.psychologist_id, requires_consent=requires,
        facts=NotificationFacts(**facts), late=late)
