"""Dead-letter queues for operators: list what is there and why, re-publish what was fixed."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    source_topic: str


async def read_dlq(settings: KafkaSettings, base_topic: str) -> list[DeadLetter]:
    topic = Topics(settings.topic_prefix).dlq(base_topic)
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs(), group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, (await consumer.beginning_offsets([tp]))[tp])
        letters: list[DeadLetter] = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=500)).values():
                for r in records:
                    headers = {k: v.decode(errors="replace") for k, v in r.headers}
                    letters.append(DeadLetter(r.offset, r.key, r.value,
                                              headers.get("dlq.reason", "?"),
                                              headers.get("dlq.source.topic", "")))
        return letters
    finally:
        await consumer.stop()


async def replay(settings: KafkaSettings, base_topic: str, offsets: list[int],
                 replacement: bytes | None = None) -> int:
    """Re-publish the chosen dead letters to the topic they came from, with their key.
    With `replacement`, a single chosen message is re-published with those bytes instead."""
    if replacement is not None and len(offsets) != 1:
        raise ValueError("a replacement body needs exactly one --offset")
    chosen = [d for d in await read_dlq(settings, base_topic) if not offsets or d.offset in offsets]
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    try:
        for letter in chosen:
            value = replacement if replacement is not None else letter.value
            await producer.send(letter.source_topic or Topics(settings.topic_prefix).name(base_topic),
                                value, letter.key.decode() if letter.key else None,
                                headers={"dlq.replayed.from.offset": str(letter.offset)})
    finally:
        await producer.stop()
    return len(chosen)
