"""Reading topics outside any consumer group: every partition (or the ones named) from the
beginning, or from the end; up to the end offsets of the moment of asking, or for as long as
the caller keeps reading. State recovery, views, the ops page, `tail`, the DLQ list and the
tests read topics this way."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

Records = list[ConsumerRecord[bytes, bytes]]


async def open_reader(kafka_kwargs: dict[str, Any], *topics: str,
                      partitions: Iterable[int] | None = None, from_beginning: bool = True,
                      **options: Any) -> AIOKafkaConsumer:
    """A started consumer with no group, assigned every partition of `topics` (or only
    `partitions`) at their beginning, or at their end. The caller stops it."""
    consumer = AIOKafkaConsumer(**kafka_kwargs, group_id=None, enable_auto_commit=False,
                                **options)
    try:
        await consumer.start()
        chosen = sorted(set(partitions)) if partitions is not None else None
        tps = [TopicPartition(topic, p) for topic in topics
               for p in (chosen if chosen is not None else await partition_numbers(consumer, topic))]
        if tps:
            consumer.assign(tps)
            await (consumer.seek_to_beginning(*tps) if from_beginning
                   else consumer.seek_to_end(*tps))
    except BaseException:
        await consumer.stop()
        raise
    return consumer


@contextlib.asynccontextmanager
async def reading(kafka_kwargs: dict[str, Any], *topics: str,
                  partitions: Iterable[int] | None = None, from_beginning: bool = True,
                  **options: Any) -> AsyncIterator[AIOKafkaConsumer]:
    """open_reader for the length of a `with` block."""
    consumer = await open_reader(kafka_kwargs, *topics, partitions=partitions,
                                 from_beginning=from_beginning, **options)
    try:
        yield consumer
    finally:
        await consumer.stop()


async def to_end(consumer: AIOKafkaConsumer, max_records: int | None = None,
                 ) -> AsyncIterator[Records]:
    """Batches of records, each partition in order, up to the end offsets as they are when
    this starts; then it stops (records written meanwhile are left for later)."""
    tps = sorted(consumer.assignment())
    end = await consumer.end_offsets(tps)
    pending = [tp for tp in tps if await consumer.position(tp) < end[tp]]
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=500, max_records=max_records)
        yield [r for tp, records in batch.items() for r in records if r.offset < end[tp]]
        pending = [tp for tp in pending if await consumer.position(tp) < end[tp]]


async def batches(consumer: AIOKafkaConsumer, timeout_ms: int = 500,
                  max_records: int | None = None) -> AsyncIterator[Records]:
    """Records as they arrive, a batch at a time, for ever; a batch is empty when nothing came
    within `timeout_ms`."""
    while True:
        batch = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        yield [r for records in batch.values() for r in records]


async def partition_numbers(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """The partitions a topic has (none if it does not exist)."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        # Not among the topics the client follows (yet): ask the cluster about every topic.
        metadata = await consumer._client.fetch_all_metadata()
        found = metadata.partitions_for_topic(topic) or set()
    return sorted(found)
