"""The notifier's views: the generic whole-topic view (shared.views) and course membership
folded from the course events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.notifier.domain.membership import MEMBERSHIP_EVENTS, CourseMembers, fold
from shared.clock import Clock
from shared.events import EventDecodeError, decode_event
from shared.kafka import header, refusal
from shared.views import GlobalView

__all__ = ["GlobalView", "MembershipView"]


class MembershipView(GlobalView[CourseMembers]):
    """Course membership folded from `courses` and `sessions` (course.started,
    psychologist.assigned). Caught up like the other views before each decision, it holds every
    course event written before the request was read: the events a request follows from."""

    def __init__(self, topics: Sequence[str], kafka_kwargs: dict[str, Any], clock: Clock) -> None:
        super().__init__(topics, kafka_kwargs, lambda raw: None)
        self._clock = clock

    def _apply(self, record: Any) -> None:
        kind = header(record, "type")
        if record.value is None or (kind is not None and kind not in MEMBERSHIP_EVENTS):
            return  # most session events: not decoded at all
        event = decode_event(record.value)
        reason = refusal(event, record.key, self._clock.now())
        if reason is not None:
            raise EventDecodeError(reason)  # mis-keyed or future-dated: never a member
        course_id = event.course_id
        if course_id is None:
            return
        updated = fold(self._values.get(course_id), event)
        if updated is not None:
            self._values[course_id] = updated
