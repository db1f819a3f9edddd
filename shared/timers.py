"""Durable timers over a changelog table, in the manner of Faust's `app.timer`: the due moment is
part of each value (a course's next reminder, a parked message's next try), so the timers
survive a restart with the table. In memory they are one heap per table partition, rebuilt from
the table whenever its partitions change (an assignment replays some, a revocation drops some),
so a partition handed to another member takes its timers with it.

A moment taken from the heap is checked against the table before it fires: the value may have
moved on (settled, rescheduled) or gone to another member meanwhile, and then it is skipped.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, Generic, TypeVar

from shared.logging import get_logger
from shared.state import ChangelogTable

V = TypeVar("V")
log = get_logger(__name__)

Due = tuple[datetime, str]


class DurableTimers(Generic[V]):
    def __init__(self, table: ChangelogTable[V], due_at: Callable[[V], datetime | None]) -> None:
        self.table = table
        self._due_at = due_at
        self._heaps: dict[int, list[Due]] = {}
        self._generation = -1

    def sync(self) -> bool:
        """Rebuild from the table if its partitions changed since; says whether it did."""
        if self._generation == self.table.generation:
            return False
        heaps: dict[int, list[Due]] = {}
        for key, value in self.table.items():
            at, partition = self._due_at(value), self.table.partition_of(key)
            if at is not None and partition is not None:
                heaps.setdefault(partition, []).append((at, key))
        for heap in heaps.values():
            heapq.heapify(heap)
        self._heaps = heaps
        self._generation = self.table.generation
        return True

    def invalidate(self) -> None:
        """Moments taken from the heap and not written back come from the table at next sync."""
        self._generation = -1

    def push(self, at: datetime, key: str, partition: int) -> None:
        heapq.heappush(self._heaps.setdefault(partition, []), (at, key))

    def next_moment(self) -> datetime | None:
        return min((heap[0][0] for heap in self._heaps.values() if heap), default=None)

    def __len__(self) -> int:
        return sum(len(heap) for heap in self._heaps.values())

    def current(self, at: datetime, key: str) -> tuple[V, int] | None:
        """The value and partition of a timer still set for `at` in this member's table."""
        value = self.table.get(key)
        partition = self.table.partition_of(key)
        if value is None or partition is None or self._due_at(value) != at:
            return None
        return value, partition

    def pop_due(self, until: datetime) -> Iterator[tuple[datetime, str, V, int]]:
        """Take, earliest first, every timer due by `until` whose value still says so. Lazy:
        what the caller does not ask for stays on the heap."""
        while True:
            partition = self._earliest(until)
            if partition is None:
                return
            at, key = heapq.heappop(self._heaps[partition])
            found = self.current(at, key)
            if found is not None:
                yield at, key, found[0], found[1]

    def _earliest(self, until: datetime) -> int | None:
        best: int | None = None
        for partition, heap in self._heaps.items():
            if heap and heap[0][0] <= until and (best is None or heap[0] < self._heaps[best][0]):
                best = partition
        return best

    async def fire_due(self, now: datetime, fire: Callable[[str, V, int], Awaitable[None]],
                       busy: Callable[[str], bool] = lambda key: False) -> int:
        """Fire every timer due by `now`, one after another; returns how many were fired.

        A timer whose key is `busy` (being worked on elsewhere) or whose firing raised goes back
        on the heap when this returns or raises: the heap is rebuilt only when partitions move,
        so a timer dropped here would wait for the next rebalance."""
        fired = 0
        later: list[tuple[datetime, str, int]] = []
        try:
            for at, key, value, partition in self.pop_due(now):
                later.append((at, key, partition))
                if busy(key):
                    continue
                await fire(key, value, partition)
                later.pop()  # fired: its value now says when (or whether) it is due again
                fired += 1
        finally:
            for at, key, partition in later:
                self.push(at, key, partition)
        return fired


async def tick_forever(tick: Callable[[], Awaitable[object]], pause: Callable[[], float],
                       failed: str = "timer_tick_failed", logger: Any = log) -> None:
    """A timer loop: tick, then sleep `pause()` seconds; a failed tick is logged (as `failed`)
    and the next one comes as usual."""
    while True:
        try:
            await tick()
        except Exception:
            logger.exception(failed)
        await asyncio.sleep(pause())
