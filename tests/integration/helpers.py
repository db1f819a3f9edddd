"""Reading what landed on a topic, for assertions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import ConsumerRecord

from services.referral.domain.members import fold
from shared.events import ConsentRecorded, ConsentState, CourseStarted, Event, decode_event
from shared.reader import batches, reading
from shared.settings import KafkaSettings


async def read_records(
    kafka: KafkaSettings, topic: str, *, expect: int, timeout: float = 20.0,
    settle: float = 0.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from the start of `topic` until `expect` arrived (plus `settle` seconds)."""
    records: list[Any] = []
    async with reading(kafka.aiokafka_kwargs(), topic) as consumer:
        deadline = time.monotonic() + timeout
        async for batch in batches(consumer, timeout_ms=200):
            records.extend(batch)
            if time.monotonic() >= deadline or len(records) >= expect:
                break
        if settle:
            await asyncio.sleep(settle)
            records.extend(await anext(batches(consumer)))
    return records


async def read_events(kafka: KafkaSettings, topic: str, *, expect: int,
                      timeout: float = 20.0, settle: float = 0.0) -> list[Event]:
    records = await read_records(kafka, topic, expect=expect, timeout=timeout, settle=settle)
    return [decode_event(r.value) for r in records if r.value is not None]


async def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


def course_record(started: CourseStarted, state: ConsentState | None = None) -> ConsentRecorded:
    """The course's record on `consents` as the referral service writes it once it has read
    the course's start: its consent and its members, all the notifier knows of the course."""
    assert started.course_id is not None
    return ConsentRecorded(occurred_at=started.occurred_at, course_id=started.course_id,
                           state=state or ConsentState(), members=fold(None, started))
