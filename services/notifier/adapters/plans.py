"""The open contact points of every course, read from `contact-points.open`.

The digest needs every course of one psychologist at once, and a psychologist's courses lie
in every partition. The scheduler keeps one compacted record per course with its open points
(ids, kinds and dates, no one named), so a view of all of it is complete at any age;
`contact-points` is a stream with a retention time, and a plan review months ahead would have
left it. Who looks after each course comes from its `consents` record, not from here.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.notifier.adapters.views import GlobalView
from services.notifier.domain.digest import CourseContacts, OpenPoint
from shared.events import EventDecodeError
from shared.open_points import OpenPoints
from shared.views import EndOffsets


def course_contacts(raw: bytes) -> CourseContacts | None:
    """A course's open points as the digest sees them; None (forget the course) once none."""
    try:
        listed = OpenPoints.model_validate_json(raw)
    except ValidationError as exc:
        raise EventDecodeError(f"unreadable open points: {exc.error_count()} errors") from None
    points = tuple(OpenPoint(p.point_id, p.kind, p.due_from, p.due_by, p.blocked)
                   for p in listed.points)
    if not points:
        return None
    return CourseContacts(listed.course_id, None, None, points)


def open_points_view(topic: str, kafka_kwargs: dict[str, Any],
                     ends: EndOffsets | None = None) -> GlobalView[CourseContacts]:
    return GlobalView(topic, kafka_kwargs, course_contacts, ends)
