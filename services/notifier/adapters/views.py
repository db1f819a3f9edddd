"""The notifier's views: the generic whole-topic view (shared.views), and the parts of each
course's `consents` record: its consent and its members (the gate), when it closed (the
ledger's retention)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar, cast

from shared.events import ConsentRecorded, ConsentState, CourseMembers, decode_event
from shared.views import EndOffsets, GlobalView

__all__ = ["CoursePart", "GlobalView", "consents_view", "course_closed", "course_consent",
           "course_members"]

V = TypeVar("V")


def _record(raw: bytes) -> ConsentRecorded:
    return cast(ConsentRecorded, decode_event(raw, (ConsentRecorded,)))


def consents_view(topic: str, kafka_kwargs: dict[str, object],
                  ends: EndOffsets | None = None) -> GlobalView[ConsentRecorded]:
    return GlobalView(topic, dict(kafka_kwargs), _record, ends)


class CoursePart(Generic[V]):
    """One part of every course's record, as a view of its own: read and caught up with the
    record, so consent and members are always of the same moment."""

    def __init__(self, records: GlobalView[ConsentRecorded],
                 part: Callable[[ConsentRecorded], V | None]) -> None:
        self._records = records
        self._part = part

    def get(self, key: str) -> V | None:
        record = self._records.get(key)
        return None if record is None else self._part(record)

    async def catch_up(self) -> None:
        await self._records.catch_up()

    def __len__(self) -> int:
        return sum(1 for r in self._records.values() if self._part(r) is not None)


def course_consent(records: GlobalView[ConsentRecorded]) -> CoursePart[ConsentState]:
    return CoursePart(records, lambda r: r.state)


def course_members(records: GlobalView[ConsentRecorded]) -> CoursePart[CourseMembers]:
    return CoursePart(records, lambda r: r.members)


def course_closed(records: GlobalView[ConsentRecorded]) -> CoursePart[datetime]:
    return CoursePart(records, lambda r: r.closed_at)
