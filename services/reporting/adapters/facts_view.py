"""Every course's facts, from all partitions of the facts changelog: the reports need the
whole picture, while the consumer group gives each instance only its share of the courses
(Kafka Streams calls this a global table)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.reporting.domain.facts import CourseFacts
from shared.background import Background
from shared.logging import get_logger

log = get_logger("reporting")


class GlobalFacts:
    def __init__(self, topic: str, kafka_kwargs: dict[str, Any]) -> None:
        self.topic = topic
        self._kafka_kwargs = kafka_kwargs
        self.facts: dict[str, CourseFacts] = {}
        self.version = 0
        self.caught_up = asyncio.Event()
        self._reader = Background(self._run, name="reporting-global-facts")

    async def start(self) -> None:
        await self._reader.start()

    async def stop(self) -> None:
        await self._reader.stop()

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(**self._kafka_kwargs, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest",
                                    max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        try:
            partitions = await _partitions(consumer, self.topic)
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for records in batch.values():
                    for record in records:
                        self._apply(record.key, record.value)
                if batch:
                    self.version += 1
                if not self.caught_up.is_set() and all(
                        [await consumer.position(tp) >= end[tp] for tp in tps]):
                    self.caught_up.set()
                    log.info("facts_view_caught_up", courses=len(self.facts))
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        course_id = key.decode()
        if value is None:
            self.facts.pop(course_id, None)
            return
        try:
            self.facts[course_id] = CourseFacts.model_validate_json(value)
        except ValidationError as exc:
            log.error("facts_record_unreadable", course_id=course_id, error=str(exc)[:200])


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    for _ in range(100):
        found = consumer.partitions_for_topic(topic)
        if found:
            return sorted(found)
        await consumer._client.force_metadata_update()  # as the notifier's views do
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no partitions")
