"""The platform against a real broker: topics, round trips, consumer offsets, the DLQ."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.events import encode_event
from shared.kafka import EventProducer, decode_or_dead_letter
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.integration.helpers import read_records
from tests.samples import one_of_each

pytestmark = pytest.mark.integration


async def test_topic_creation_is_idempotent_and_compacts_people_and_consents(
    kafka: KafkaSettings, topics: Topics
) -> None:
    assert await create_topics(kafka.aiokafka_kwargs(), topics) == []
    admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in (topics.people, topics.courses)]
        )
        policies = {
            res[3]: {c[0]: c[1] for c in res[4]}["cleanup.policy"]
            for d in described for res in d.resources
        }
        assert policies == {topics.people: "compact", topics.courses: "delete"}
        names = set(await admin.list_topics())
        assert {topics.dlq("referrals"), topics.dlq("notifications.requested")} <= names
    finally:
        await admin.close()


async def test_every_event_type_round_trips_through_kafka_keyed_by_course(
    kafka: KafkaSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    sent = one_of_each(course_id="course-42")
    for event in sent:
        await producer.publish(topics.sessions, event)
    await producer.stop()
    records = await read_records(kafka, topics.sessions, expect=len(sent))
    from shared.events import decode_event

    assert sorted(encode_event(decode_event(r.value)) for r in records) == sorted(
        encode_event(e) for e in sent
    )
    course_records = [r for r in records if r.key == b"course-42"]
    # All of one course's events share a partition and keep their order.
    assert len({r.partition for r in course_records}) == 1
    in_order = [decode_event(r.value) for r in sorted(course_records, key=lambda r: r.offset)]
    assert in_order == [e for e in sent if e.key == "course-42"]


async def test_a_consumer_group_resumes_after_its_committed_offset(
    kafka: KafkaSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    events = [e for e in one_of_each(course_id="c-resume") if e.key == "c-resume"][:10]

    async def consume(n: int) -> list[bytes]:
        consumer = AIOKafkaConsumer(topics.sessions, **kafka.aiokafka_kwargs(),
                                    group_id=f"{topics.prefix}group", auto_offset_reset="earliest",
                                    enable_auto_commit=False)
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < n:
                for part in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(r.value for r in part)
            await consumer.commit()
        finally:
            await consumer.stop()
        return got

    for event in events[:5]:
        await producer.publish(topics.sessions, event)
    first = await consume(5)
    for event in events[5:]:
        await producer.publish(topics.sessions, event)
    second = await consume(5)
    await producer.stop()
    assert first == [encode_event(e) for e in events[:5]]
    assert second == [encode_event(e) for e in events[5:]]


async def test_an_invalid_message_lands_in_the_dlq_with_its_reason(
    kafka: KafkaSettings, topics: Topics
) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    await producer.send(topics.sessions, b'{"type": "course.ended", "schema_version": 9}', "c-9")
    consumer = AIOKafkaConsumer(topics.sessions, **kafka.aiokafka_kwargs(), group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    record = await asyncio.wait_for(consumer.getone(), 10)
    await consumer.stop()
    assert await decode_or_dead_letter(producer, record, topics.dlq("sessions")) is None
    await producer.stop()
    [dead] = await read_records(kafka, topics.dlq("sessions"), expect=1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == record.value and dead.key == b"c-9"
    assert headers["dlq.reason"] == "unsupported schema_version '9' for course.ended"
    assert headers["dlq.source.topic"] == topics.sessions
    assert headers["dlq.source.offset"] == str(record.offset)
