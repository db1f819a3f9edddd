"""On the real broker: a `consents` record written before the members were kept on it, whose
course's start the referral service's consent group read long ago, gets its members from the
course events when the service starts."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.referral.app import CONSENT_GROUP, ReferralService
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import ConsentRecorded, ConsentState, CourseStarted, decode_event
from shared.kafka import EventProducer
from shared.reader import partition_numbers
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_records, wait_for

pytestmark = pytest.mark.integration
MONDAY_7 = datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN)
START = CourseStarted(occurred_at=MONDAY_7, course_id="c-old", referral_id="r-old",
                      employee_id="e-old", leader_id="l-old", psychologist_id="psy-1",
                      start_date=date(2026, 11, 23))


async def _consent_group_read_everything(kafka: KafkaSettings, topics: Topics) -> None:
    """As if the consent group had read the start before the members were kept."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), enable_auto_commit=False,
                                group_id=f"{kafka.topic_prefix}{CONSENT_GROUP}")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for topic in (topics.courses, topics.sessions)
               for p in await partition_numbers(consumer, topic)]
        consumer.assign(tps)
        await consumer.commit(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def test_a_record_written_before_members_were_kept_gets_them_at_start(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer,
) -> None:
    await producer.publish(topics.courses, START)
    # Same key, same partition count: the record lands in the partition of the course's events.
    await producer.publish(topics.consents, ConsentRecorded(
        occurred_at=MONDAY_7, course_id="c-old", state=ConsentState()))
    await _consent_group_read_everything(kafka, topics)
    referral = ReferralService(kafka, clock=ManualClock(MONDAY_7))
    await referral.start()
    try:
        def members_started() -> bool:
            record = referral.consents.get("c-old")
            return record is not None and record.members is not None and record.members.started
        await wait_for(members_started, timeout=15)
    finally:
        await referral.stop()
    records = await read_records(kafka, topics.consents, expect=2)
    last = decode_event(records[-1].value)
    assert isinstance(last, ConsentRecorded) and last.members is not None
    assert last.members.holds("l-old", "leader") and last.members.holds("psy-1", "psychologist")
