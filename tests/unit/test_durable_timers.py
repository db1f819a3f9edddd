"""Timers live in their table: rebuilt from it when partitions move, checked against it before
they fire, and kept when a firing fails or finds its key busy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.state import ChangelogTable
from shared.timers import DurableTimers
from tests.fakes import FakeProducer

T0 = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)


def _table(**due: tuple[int, int]) -> ChangelogTable[datetime]:
    """A table of due moments: key -> (minutes after T0, partition)."""
    table: ChangelogTable[datetime] = ChangelogTable(
        "t", {}, FakeProducer(), encode=lambda d: d.isoformat().encode(),
        decode=lambda raw: datetime.fromisoformat(raw.decode()))
    table.remember((k, T0 + timedelta(minutes=m), p) for k, (m, p) in due.items())
    table.generation += 1
    return table


def _fired(timers: DurableTimers[datetime], now: datetime) -> list[str]:
    fired: list[str] = []

    async def fire(key: str, at: datetime, partition: int) -> None:
        fired.append(key)
        await timers.table.put(key, at + timedelta(days=1), partition)

    asyncio.run(timers.fire_due(now, fire))
    return fired


def test_timers_come_from_the_table_and_fire_earliest_first() -> None:
    timers = DurableTimers(_table(a=(5, 0), b=(1, 1), c=(90, 2)), lambda d: d)
    assert timers.sync() and not timers.sync()
    assert timers.next_moment() == T0 + timedelta(minutes=1)
    assert _fired(timers, T0 + timedelta(minutes=10)) == ["b", "a"]


def test_a_partition_that_left_takes_its_timers_with_it() -> None:
    table = _table(a=(5, 0), b=(1, 1))
    timers = DurableTimers(table, lambda d: d)
    timers.sync()
    table.drop([1])
    timers.sync()
    assert len(timers) == 1 and _fired(timers, T0 + timedelta(minutes=10)) == ["a"]


def test_a_timer_whose_value_moved_on_is_skipped() -> None:
    table = _table(a=(5, 0))
    timers = DurableTimers(table, lambda d: d)
    timers.sync()
    table.remember([("a", T0 + timedelta(hours=3), 0)])  # rescheduled, heap not told
    assert _fired(timers, T0 + timedelta(minutes=10)) == []


def test_a_timer_whose_firing_raised_or_was_busy_stays_for_the_next_tick() -> None:
    timers = DurableTimers(_table(a=(1, 0), b=(2, 0)), lambda d: d)
    timers.sync()

    async def failing(key: str, at: datetime, partition: int) -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        asyncio.run(timers.fire_due(T0 + timedelta(minutes=10), failing, busy=lambda k: k == "a"))
    assert len(timers) == 2
    assert _fired(timers, T0 + timedelta(minutes=10)) == ["a", "b"]
