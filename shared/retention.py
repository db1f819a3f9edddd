"""The state of a course closed long ago, tombstoned by the service that keeps it.

A compacted changelog keeps the latest value of each key for good. Each service that keeps
state per course goes through its own table now and then and writes a tombstone for every
course ended or cancelled more than `ended_course_days` ago; the cleaner then removes the
course's records within the erasure bound (the changelogs have `max.compaction.lag.ms`). A
table holds only the partitions this member owns, so each member deletes only its own keys.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from shared.clock import Clock
from shared.kafka import Publisher
from shared.logging import get_logger
from shared.state import ChangelogTable
from shared.timers import tick_forever

V = TypeVar("V")
log = get_logger(__name__)


def is_expired(closed_at: datetime | None, now: datetime, keep: timedelta) -> bool:
    """A course's state goes once the course has been closed for longer than `keep`; the
    state of a course still open (no closing moment) stays."""
    return closed_at is not None and now - closed_at > keep


@contextlib.asynccontextmanager
async def _unlocked() -> AsyncIterator[None]:
    yield


@dataclass
class ClosedCourseSweep(Generic[V]):
    """Tombstones the keys of `table` whose value says its course closed longer than `keep`
    ago. `lock` is the one the service's handlers hold while they change the table, so a key
    is never deleted under a handler that is writing it."""

    table: ChangelogTable[V]
    closed_at: Callable[[V], datetime | None]
    clock: Clock
    keep: timedelta
    lock: asyncio.Lock | None = None
    # What else goes with a tombstoned key (the scheduler's record of the course's open points).
    also: Callable[[str], Awaitable[None]] | None = None
    swept: int = field(default=0)

    def expired(self) -> list[tuple[str, int]]:
        now = self.clock.now()
        found = []
        for key, value in self.table.items():
            partition = self.table.partition_of(key)
            if partition is not None and is_expired(self.closed_at(value), now, self.keep):
                found.append((key, partition))
        return found

    async def sweep(self) -> int:
        """Tombstone every expired key of the partitions this member owns; returns how many.
        Nothing happens while the table is being rebuilt after a rebalance."""
        if not self.table.ready.is_set():
            return 0
        async with self.lock if self.lock is not None else _unlocked():
            gone = self.expired()
            for key, partition in gone:
                if self.also is not None:
                    await self.also(key)
                await self.table.delete(key, partition)
        if gone:
            self.swept += len(gone)
            log.info("closed_courses_tombstoned", topic=self.table.topic, keys=len(gone))
        return len(gone)

    async def run(self, interval: float) -> None:
        await tick_forever(self.sweep, lambda: interval, "retention_sweep_failed", log)


# The key of the empty records that make the cleaner's guarantee hold on a quiet partition.
ROLL_KEY = b"~roll"


async def roll_segments(producer: Publisher, topic: str, partitions: int,
                        every_seconds: float) -> None:
    """Kafka compacts only closed segments, and closes one (after `segment.ms` or
    `max.compaction.lag.ms`) only when a record arrives. An erased person's tombstone (or a
    course's facts replaced at an erasure) on a partition nobody writes to would leave the old
    value in the open segment for good; an empty record for a key no event uses, in every
    partition once a segment interval, lets the segment close and the cleaner remove the old
    value within the bound."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await producer.send_records([(topic, p, ROLL_KEY, None, []) for p in range(partitions)])
        except Exception as exc:  # the next round tries again
            log.warning("segment_roll_failed", topic=topic, error=str(exc))
