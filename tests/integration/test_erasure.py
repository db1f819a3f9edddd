"""Erasure on the real broker: a person's open courses close, nothing more is requested to or
about them, and their contact details are compacted away within the bound."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest

from services.contact_scheduler.app import SchedulerService
from services.ops.erasure import erase
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    NotificationRequested,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events, wait_for

pytestmark = pytest.mark.integration
MONDAY_7 = datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN)


def _course(course_id: str, employee: str, leader: str) -> list[tuple[str, object]]:
    return [
        ("courses", CourseStarted(occurred_at=MONDAY_7, course_id=course_id,
                                  referral_id=f"r-{course_id}", employee_id=employee,
                                  leader_id=leader, psychologist_id="psy-1",
                                  team_lead_id="lead-1", start_date=date(2026, 11, 23),
                                  employee_consents_to_leader_contact=True,
                                  consent_stated_at=MONDAY_7)),
        ("consents", ConsentRecorded(occurred_at=MONDAY_7, course_id=course_id, state=ConsentState(
            leader_contact=ConsentStatement(agreed=True, as_of=MONDAY_7)))),
    ]


def _end_contact_open(scheduler: SchedulerService, status: str | None) -> bool:
    """With a status: the ended course c-e has its end contact open; without: nothing in it is."""
    plan = scheduler.plans.get("c-e")
    if plan is None:
        return False
    if status is None:
        return not any(p.is_open for p in plan.points.values())
    return plan.status == status and "end_contact" in plan.points \
        and plan.points["end_contact"].is_open


async def test_erasing_an_employee_in_one_course_and_leader_in_another_closes_both(
    kafka: KafkaSettings, topics: Topics
) -> None:
    """Also a course whose start the scheduler has not read yet (it is down) and an ended
    course whose end contact is still to be made: nothing in them goes out any more."""
    clock = ManualClock(MONDAY_7)
    scheduler = SchedulerService(kafka, clock, tick_interval=0.1)
    await scheduler.start()
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    ended = CourseEnded(occurred_at=MONDAY_7, course_id="c-e", end_date=date(2026, 11, 23))
    outputs = [*_course("c-a", "p-x", "p-lead-a"), *_course("c-b", "p-emp-b", "p-x"),
               *_course("c-c", "p-emp-c", "p-lead-c"), *_course("c-e", "p-x", "p-lead-e")]
    await producer.publish_all([(topics.name(t), e) for t, e in outputs])  # type: ignore[misc]
    await wait_for(lambda: {k for k, p in scheduler.plans.items() if p.status == "open"}
                   == {"c-a", "c-b", "c-c", "c-e"}, timeout=30)
    await producer.publish(topics.sessions, ended)
    await wait_for(lambda: _end_contact_open(scheduler, "ended"), timeout=30)
    await scheduler.stop()
    await producer.publish_all([(topics.name(t), e)  # type: ignore[misc]
                                for t, e in _course("c-d", "p-x", "p-lead-d")])
    await producer.stop()

    erasure = await erase(kafka, "p-x", clock)
    assert erasure.courses_closed == ["c-a", "c-b", "c-d", "c-e"]
    scheduler = SchedulerService(kafka, clock, tick_interval=0.1)
    await scheduler.start()
    await wait_for(lambda: {k for k, p in scheduler.plans.items() if p.status == "cancelled"}
                   == {"c-a", "c-b", "c-d"} and _end_contact_open(scheduler, None), timeout=30)
    clock.at = MONDAY_7.replace(hour=9)
    await asyncio.sleep(2.0)
    await scheduler.stop()

    events = await read_events(kafka, topics.courses, expect=10, settle=0.5)
    cancelled = {e.course_id for e in events
                 if isinstance(e, CourseCancelled) and e.reason == "person_erased"}
    assert cancelled == {"c-a", "c-b", "c-d", "c-e"}
    requests = [e for e in await read_events(kafka, topics.notifications_requested, expect=2,
                                             settle=1.0) if isinstance(e, NotificationRequested)]
    # The 09:00 reminders of the untouched course go out; none to or about the erased person.
    assert requests and {r.course_id for r in requests} == {"c-c"}
    assert all("p-x" not in (r.recipient_id, r.about_employee_id) for r in requests)


async def _all_bytes(kafka: KafkaSettings, topic_names: list[str]) -> bytes:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topic_names
               for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        chunks: list[bytes] = []
        for tp in tps:
            consumer.seek(tp, begins[tp])
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    chunks += [r.key or b"", r.value or b"",
                               *(v for _, v in r.headers)]
        return b"".join(chunks)
    finally:
        await consumer.stop()


async def _partitions(consumer: object, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # type: ignore[attr-defined]
    return consumer.partitions_for_topic(topic) or set()  # type: ignore[attr-defined]


async def test_an_erased_persons_details_are_gone_from_every_topic_within_the_bound(
    kafka: KafkaSettings, topics: Topics
) -> None:
    import time

    from services.referral.app import ReferralService
    from services.referral.domain.intake import person_id_for
    from shared.topics import RetentionSettings, reconcile_topics
    from tests.samples import referral

    # Raw intake and DLQs keep 4 s (segments of 1 s), compacted topics clean within 2 s.
    short = RetentionSettings(erasure_bound_ms=8_000)
    await reconcile_topics(kafka.aiokafka_kwargs(), topics, retention=short)
    for _ in range(40):
        if not await reconcile_topics(kafka.aiokafka_kwargs(), topics, alter=False,
                                      retention=short):
            break
        await asyncio.sleep(0.5)
    service = ReferralService(kafka, retention=short)
    await service.start()
    try:
        producer = EventProducer(kafka.aiokafka_kwargs())
        await producer.start()
        submitted = referral("r-erase")
        await producer.publish(topics.referrals, submitted)
        await producer.stop()
        await read_events(kafka, topics.people, expect=3)
        employee = submitted.employee
        await erase(kafka, person_id_for(employee))
        erased_at = time.monotonic()
        everything = [s.name for s in topics.all_specs()]
        secrets = [employee.name.encode(), str(employee.email).encode(),
                   str(employee.phone).encode(), str(employee.phone).lstrip("+").encode()]
        seen = b""
        while time.monotonic() - erased_at < 60:
            seen = await _all_bytes(kafka, everything)
            if not any(s in seen for s in secrets):
                break
            await asyncio.sleep(1.0)
        took = time.monotonic() - erased_at
    finally:
        await service.stop()
    print(f"erased person's details gone from every topic after {took:.1f} s "
          f"(bound {short.erasure_bound_ms / 1000:g} s)")
    assert not [s for s in secrets if s in seen]
    # The bound, plus the broker's once-a-second retention check and the cleaner's backoff.
    assert took < short.erasure_bound_ms / 1000 + 10
    assert b"lars@example.org" in seen  # the leader was not erased: still on `people`
