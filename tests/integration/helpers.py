"""Reading what landed on a topic, for assertions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from shared.events import Event, decode_event
from shared.settings import KafkaSettings


async def read_records(
    kafka: KafkaSettings, topic: str, *, expect: int, timeout: float = 20.0,
    settle: float = 0.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from the start of `topic` until `expect` arrived (plus `settle` seconds)."""
    consumer = AIOKafkaConsumer(topic, **kafka.aiokafka_kwargs(), group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(records) < expect:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        if settle:
            await asyncio.sleep(settle)
            for part in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(part)
    finally:
        await consumer.stop()
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
