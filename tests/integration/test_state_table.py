"""The compacted-state helper: state survives restarts and follows partitions in a rebalance."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.kafka import CO_PARTITIONED, EventProducer
from shared.reader import partition_numbers, reading
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, PartitionMismatch, check_partitions, listener_for
from shared.topics import Topics

pytestmark = pytest.mark.integration


def _table(kafka: KafkaSettings, topics: Topics, producer: EventProducer) -> ChangelogTable[str]:
    return ChangelogTable(topics.referral_dedup, kafka.aiokafka_kwargs(), producer,
                          encode=str.encode, decode=bytes.decode)


async def test_a_restarted_table_holds_the_latest_value_of_each_key_and_forgets_tombstones(
    kafka: KafkaSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    table = _table(kafka, topics, producer)
    for i in range(300):
        await table.put(f"k{i % 100}", f"v{i}", partition=(i % 100) % 6)
    await table.delete("k7", partition=7 % 6)
    restarted = _table(kafka, topics, producer)
    read = await restarted.recover(range(6))
    await producer.stop()
    assert read == 301
    assert len(restarted) == 99 and restarted.get("k7") is None
    assert restarted.get("k42") == "v242" and restarted.partition_of("k42") == 42 % 6
    # Only the partitions asked for are rebuilt.
    partial = _table(kafka, topics, EventProducer(kafka.aiokafka_kwargs()))
    await partial.recover([0])
    assert {partial.partition_of(k) for k, _ in partial.items()} == {0}


async def test_two_members_split_the_state_and_the_survivor_takes_it_all_back(
    kafka: KafkaSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    seed = _table(kafka, topics, producer)
    for i in range(60):
        await seed.put(f"course-{i}", f"state-{i}", partition=i % 6)

    async def member() -> tuple[AIOKafkaConsumer, ChangelogTable[str]]:
        table = _table(kafka, topics, producer)
        consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=f"{topics.prefix}g",
                                    partition_assignment_strategy=CO_PARTITIONED)
        consumer.subscribe([topics.courses, topics.sessions], listener=listener_for(table))
        await consumer.start()
        return consumer, table

    async def poll(*consumers: AIOKafkaConsumer) -> None:
        for c in consumers:
            await c.getmany(timeout_ms=50)

    c1, t1 = await member()
    for _ in range(100):
        await poll(c1)
        if len(t1) == 60:
            break
    assert len(t1) == 60
    c2, t2 = await member()
    for _ in range(300):
        await poll(c1, c2)
        if t1.owned and t2.owned and len(t1) + len(t2) == 60 and t1.ready.is_set() \
                and t2.ready.is_set():
            break
    assert t1.owned | t2.owned == set(range(6)) and not t1.owned & t2.owned
    assert len(t1) == len(t2) == 30
    # Co-partitioning: each member owns the same partition numbers of both input topics.
    for consumer, table in ((c1, t1), (c2, t2)):
        by_topic: dict[str, set[int]] = {}
        for tp in consumer.assignment():
            by_topic.setdefault(tp.topic, set()).add(tp.partition)
        assert by_topic == {topics.courses: table.owned, topics.sessions: table.owned}
    await c2.stop()
    for _ in range(300):
        await poll(c1)
        if len(t1) == 60 and t1.ready.is_set():
            break
    await c1.stop()
    await producer.stop()
    assert len(t1) == 60 and t1.get("course-59") == "state-59"
    await asyncio.sleep(0)


async def test_a_member_that_gets_its_partition_back_sees_what_another_member_wrote_meanwhile(
    kafka: KafkaSettings, topics: Topics
) -> None:
    # A member thrown out of its group (missed heartbeats) hears of it only when it rejoins; by
    # then another member may have owned its partition and written state there.
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    mine = _table(kafka, topics, producer)
    other = _table(kafka, topics, producer)
    listener = listener_for(mine)
    partition = {TopicPartition(topics.courses, 2)}
    await mine.put("course-a", "started", partition=2)
    await listener.on_partitions_assigned(partition)
    await listener.on_partitions_revoked(partition)
    await other.recover([2])
    await other.put("course-b", "started", partition=2)
    await other.put("course-a", "ended", partition=2)
    await listener.on_partitions_assigned(partition)
    await producer.stop()
    assert mine.get("course-b") == "started" and mine.get("course-a") == "ended"
    assert mine.ready.is_set() and mine.owned == {2}


async def test_an_unreadable_changelog_record_is_skipped_not_fatal(
    kafka: KafkaSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    table: ChangelogTable[dict[str, int]] = ChangelogTable(
        topics.referral_dedup, kafka.aiokafka_kwargs(), producer,
        encode=lambda v: json.dumps(v).encode(), decode=json.loads)
    await table.put("a", {"n": 1}, partition=0)
    await producer.send(topics.referral_dedup, b"{broken", "a", partition=0)
    await table.put("b", {"n": 2}, partition=0)
    restarted: ChangelogTable[dict[str, int]] = ChangelogTable(
        topics.referral_dedup, kafka.aiokafka_kwargs(), producer,
        encode=lambda v: json.dumps(v).encode(), decode=json.loads)
    assert await restarted.recover([0]) == 3
    await producer.stop()
    assert restarted.get("a") == {"n": 1} and restarted.get("b") == {"n": 2}


async def test_a_service_refuses_to_start_when_a_changelog_has_other_partitions_than_its_input(
    kafka: KafkaSettings, topics: Topics
) -> None:
    admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topics.name("in"), 6, 1),
                                              NewTopic(topics.name("in.changelog"), 3, 1)])
        assert [code for _, code, *_ in response.topic_errors] == [0, 0]
    finally:
        await admin.close()
    async with reading(kafka.aiokafka_kwargs()) as consumer:
        for _ in range(300):  # a loaded broker takes a while to know new topics
            if all([await partition_numbers(consumer, topics.name(t))
                    for t in ("in", "in.changelog")]):
                break
            await asyncio.sleep(0.2)
    producer = EventProducer(kafka.aiokafka_kwargs())
    table: ChangelogTable[str] = ChangelogTable(
        topics.name("in.changelog"), kafka.aiokafka_kwargs(), producer, encode=str.encode,
        decode=bytes.decode, inputs=[topics.name("in")])
    with pytest.raises(PartitionMismatch, match=r"has 3 partitions but its input .* has 6"):
        await check_partitions(kafka.aiokafka_kwargs(), [table])
    # Every changelog of the real topic set matches its input.
    await check_partitions(kafka.aiokafka_kwargs(), [ChangelogTable(
        topics.scheduler_state, kafka.aiokafka_kwargs(), producer, encode=str.encode,
        decode=bytes.decode, inputs=[topics.courses, topics.sessions, topics.consents])])
