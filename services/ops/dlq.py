"""Dead-letter queues for operators: list what is there and why, re-publish what was fixed."""

from __future__ import annotations

from dataclasses import dataclass

from shared.kafka import EventProducer
from shared.reader import reading, to_end
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
    letters: list[DeadLetter] = []
    async with reading(settings.aiokafka_kwargs(), topic, partitions=[0]) as consumer:
        async for records in to_end(consumer):
            for r in records:
                headers = {k: v.decode(errors="replace") for k, v in r.headers}
                letters.append(DeadLetter(r.offset, r.key, r.value,
                                          headers.get("dlq.reason", "?"),
                                          headers.get("dlq.source.topic", "")))
    return letters


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
