"""The ledger entries of courses closed long ago go, as the plans and consent records do: each
settled entry is stamped with the moment its course closed (from the course's consent record,
which goes at the same retention), then tombstoned `ended_course_days` after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.notifier.domain.ledger import LedgerEntry, closed_since, expires_from
from shared.clock import Clock
from shared.logging import get_logger
from shared.retention import ClosedCourseSweep
from shared.state import ChangelogTable
from shared.timers import tick_forever

log = get_logger("notifier")


class ClosedCourses(Protocol):
    """When each closed course closed, by course id (a whole-topic view of `consents`)."""

    def get(self, key: str) -> datetime | None: ...

    async def catch_up(self) -> None: ...


@dataclass
class LedgerRetention:
    ledger: ChangelogTable[LedgerEntry]
    closed_courses: ClosedCourses
    clock: Clock
    keep: timedelta

    def __post_init__(self) -> None:
        self.sweep = ClosedCourseSweep(self.ledger, expires_from, self.clock, self.keep)

    async def stamp(self) -> int:
        """Stamp the settled entries of this member's partitions whose course has closed."""
        stamped = [(key, updated, partition) for key, entry in self.ledger.items()
                   if entry.course_id is not None
                   and (partition := self.ledger.partition_of(key)) is not None
                   and (updated := closed_since(entry, self.closed_courses.get(entry.course_id)))]
        if stamped:
            await self.ledger.put_many(stamped)
        return len(stamped)

    async def round(self) -> int:
        """One pass: stamp, then tombstone what expired; nothing while the ledger is rebuilt."""
        if not self.ledger.ready.is_set():
            return 0
        await self.closed_courses.catch_up()
        await self.stamp()
        return await self.sweep.sweep()

    async def run(self, interval: float) -> None:
        await tick_forever(self.round, lambda: interval, "retention_sweep_failed", log)
