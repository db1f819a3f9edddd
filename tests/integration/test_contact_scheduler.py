"""The scheduler's durable timers on the real broker: split, restart, kill -9."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from services.contact_scheduler.app import SchedulerService
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseStarted,
    NotificationRequested,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events, read_records, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def course(i: int, start: date = date(2026, 11, 23), at: datetime | None = None) -> CourseStarted:
    at = at or datetime.combine(start, datetime.min.time(), tzinfo=COPENHAGEN)
    return CourseStarted(occurred_at=at, course_id=f"course-{i}", referral_id=f"r-{i}",
                         employee_id=f"e-{i}", leader_id=f"l-{i}", psychologist_id="psy-1",
                         team_lead_id="lead-1", start_date=start,
                         employee_consents_to_leader_contact=True, consent_stated_at=at)


async def publish_courses(kafka: KafkaSettings, topics: Topics, courses: list[CourseStarted]) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    # The employee's own consent, as the referral service records it from the psychologist's
    # consent.given: what the referral form says never opens leader contact.
    await producer.publish_all([(topics.consents, ConsentRecorded(
        occurred_at=c.occurred_at - timedelta(days=1), course_id=c.course_id,
        state=ConsentState(leader_contact=ConsentStatement(
            agreed=True, as_of=c.occurred_at - timedelta(days=1))))) for c in courses])
    await producer.publish_all([(topics.courses, c) for c in courses])
    await producer.stop()


async def notifications(kafka: KafkaSettings, topics: Topics, expect: int,
                        settle: float = 0.0, timeout: float = 30.0) -> list[NotificationRequested]:
    events = await read_events(kafka, topics.notifications_requested, expect=expect,
                               settle=settle, timeout=timeout)
    return [e for e in events if isinstance(e, NotificationRequested)]


async def test_two_instances_split_the_partitions_and_fire_every_reminder_once(
    kafka: KafkaSettings, topics: Topics
) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN))
    a = SchedulerService(kafka, clock, tick_interval=0.1)
    b = SchedulerService(kafka, clock, tick_interval=0.1)
    await a.start()
    await b.start()
    await publish_courses(kafka, topics, [course(i) for i in range(24)])
    await wait_for(lambda: len(a.plans) + len(b.plans) == 24 and bool(a.plans.owned)
                   and bool(b.plans.owned), timeout=30)
    assert a.steps.notifications_requested + b.steps.notifications_requested == 0
    clock.at = datetime(2026, 11, 23, 9, 0, tzinfo=COPENHAGEN)
    got = await notifications(kafka, topics, expect=48, settle=1.0)
    fired_by = (a.steps.notifications_requested, b.steps.notifications_requested)
    await a.stop()
    await b.stop()
    ids = collections.Counter(n.notification_id for n in got)
    assert len(ids) == 48 and max(ids.values()) == 1
    assert all(fired_by) and not a.plans.owned & b.plans.owned


async def test_a_full_restart_rebuilds_the_plans_and_fires_nothing_twice(
    kafka: KafkaSettings, topics: Topics
) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN))
    first = SchedulerService(kafka, clock, tick_interval=0.1)
    await first.start()
    await publish_courses(kafka, topics, [course(i) for i in range(10)])
    # Courses and consents travel on two topics; both are read before the reminders fall due.
    await wait_for(lambda: len(first.plans) == 10 and all(
        p.leader_contact_consent for _, p in first.plans.items()), timeout=30)
    clock.at = datetime(2026, 11, 23, 9, 0, tzinfo=COPENHAGEN)
    assert len(await notifications(kafka, topics, expect=20, settle=0.5)) == 20
    await first.stop()

    second = SchedulerService(kafka, clock, tick_interval=0.1)
    await second.start()
    await wait_for(lambda: len(second.plans) == 10, timeout=30)
    await asyncio.sleep(1.0)
    assert second.steps.notifications_requested == 0
    clock.at = datetime(2026, 11, 26, 9, 0, tzinfo=COPENHAGEN)  # start calls now overdue
    got = await notifications(kafka, topics, expect=30, settle=1.0)
    await second.stop()
    ids = collections.Counter(n.notification_id for n in got)
    assert len(ids) == 30 and max(ids.values()) == 1
    assert sum(1 for n in ids if n.endswith("start_call:overdue")) == 10


def _spawn(kafka: KafkaSettings, clock_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, **clock_env, "LEDERKONTAKT_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "LEDERKONTAKT_TOPIC_PREFIX": kafka.topic_prefix, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "services.contact_scheduler.app"], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_kill_9_of_one_instance_loses_no_reminder(kafka: KafkaSettings, topics: Topics) -> None:
    # Scaled time: one day every 2 seconds from now, starting the Thursday before the
    # first course: both instances have read every course and consent before a reminder is due.
    # (Events are dated before the clock's start: one dated ahead of it would be refused.)
    clock_env = {"LEDERKONTAKT_CLOCK_START": "2026-11-19T00:00:00+00:00",
                 "LEDERKONTAKT_CLOCK_SPEED": str(86400 / 2),
                 "LEDERKONTAKT_CLOCK_ORIGIN": str(time.time())}
    starts = [date(2026, 11, 23) + timedelta(days=d) for d in range(5)]
    referred = datetime(2026, 11, 18, 23, 0, tzinfo=timezone.utc)
    courses = [course(i, starts[i % 5], referred) for i in range(30)]
    await publish_courses(kafka, topics, courses)
    procs = [_spawn(kafka, clock_env), _spawn(kafka, clock_env)]
    try:
        await asyncio.sleep(12)  # a few days of scaled time: some reminders have fired
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        # due (psychologist + leader), overdue and escalation per course.
        got = await notifications(kafka, topics, expect=4 * 30, timeout=60, settle=1.0)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    ids = collections.Counter(n.notification_id for n in got)
    assert len(ids) == 4 * 30
    repeats = sum(c - 1 for c in ids.values())
    print(f"kill -9: {len(ids)} distinct reminders, {repeats} repeated requests")
    # A repeat may only come from the crash window, and always under the same id.
    assert repeats <= 10


async def test_a_course_queued_by_several_events_fires_each_reminder_once(
    kafka: KafkaSettings, topics: Topics
) -> None:
    from shared.events import ConsentRecorded, ConsentState, ConsentStatement

    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN))
    service = SchedulerService(kafka, clock, tick_interval=0.1)
    await service.start()
    # Let the first assignment and timer rebuild happen before the events arrive.
    await wait_for(lambda: service.plans.ready.is_set(), timeout=30)
    await asyncio.sleep(0.5)
    started = course(1)
    at = started.occurred_at
    consent = ConsentRecorded(occurred_at=at, course_id="course-1", state=ConsentState(
        leader_contact=ConsentStatement(agreed=True, as_of=at)))
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    for event in (started, consent, consent.model_copy(update={"event_id": uuid.uuid4()})):
        await producer.publish(topics.courses if event is started else topics.consents, event)
    await producer.stop()
    await wait_for(lambda: "course-1" in [k for k, _ in service.plans.items()], timeout=30)
    await asyncio.sleep(1.0)
    clock.at = datetime(2026, 11, 23, 9, 0, tzinfo=COPENHAGEN)
    got = await notifications(kafka, topics, expect=2, settle=1.5)
    await service.stop()
    ids = collections.Counter(n.notification_id for n in got)
    assert ids == {"course-1:start_call:due": 1, "course-1:start_call:due:leader": 1}


async def test_a_poison_record_goes_to_the_dlq_and_the_next_course_on_its_partition_is_planned(
    kafka: KafkaSettings, topics: Topics
) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN))
    service = SchedulerService(kafka, clock, tick_interval=0.1)
    await service.start()
    try:
        producer = EventProducer(kafka.aiokafka_kwargs())
        await producer.start()
        # Same key, so the same partition, as the valid course that follows.
        await producer.send(topics.courses, b"[" * 5000, "course-1")
        await producer.send(topics.courses, b'{"n": ' + b"9" * 4500 + b"}", "course-1")
        await producer.stop()
        await publish_courses(kafka, topics, [course(1)])
        dead = await read_records(kafka, topics.dlq("courses"), expect=2, timeout=30)
        reasons = sorted(dict(r.headers)["dlq.reason"].decode() for r in dead)
        assert [r.split(":")[0] for r in reasons] == ["undecodable", "undecodable"]
        assert any("RecursionError" in r for r in reasons)
        assert any("ValueError" in r for r in reasons)
        scheduled = await read_events(kafka, topics.contact_points, expect=1, timeout=30)
        assert {e.course_id for e in scheduled} == {"course-1"}
    finally:
        await service.stop()


async def test_an_event_delivered_twice_takes_effect_once_and_a_poison_stalls_nothing(
    kafka: KafkaSettings, topics: Topics
) -> None:
    from shared.events import ContactPointCompleted, FollowUpRequested, LeaderContactLogged

    clock = ManualClock(datetime(2026, 11, 24, 12, 0, tzinfo=COPENHAGEN))
    service = SchedulerService(kafka, clock, tick_interval=0.1)
    await service.start()
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    try:
        await publish_courses(kafka, topics, [course(1)])
        # Session events of a course not yet open change nothing: the course comes first.
        await wait_for(lambda: service.plans.get("course-1") is not None
                       and service.plans.get("course-1").status == "open", timeout=30)  # type: ignore[union-attr]
        at = clock.now() - timedelta(hours=1)
        for follow_up in ("f-1", "f-2"):
            await producer.publish(topics.sessions, FollowUpRequested(
                occurred_at=at, course_id="course-1", follow_up_id=follow_up))
        logged = LeaderContactLogged(occurred_at=at, course_id="course-1",
                                     contact_kind="follow_up", at=at)
        await producer.publish(topics.sessions, logged)
        await producer.publish(topics.sessions, logged)  # a producer's retry: same event id
        # Then a poison and a valid event on the same partition.
        await producer.send(topics.sessions, b'{"n": ' + b"9" * 4500 + b"}", "course-1")
        await producer.publish(topics.sessions, FollowUpRequested(
            occurred_at=at, course_id="course-1", follow_up_id="f-3"))
        started = time.monotonic()
        await wait_for(lambda: (service.plans.get("course-1") is not None
                                and "follow_up:f-3" in service.plans.get("course-1").points),  # type: ignore[union-attr]
                       timeout=15)
        after_poison = time.monotonic() - started
        dead = await read_events_raw(kafka, topics.dlq("sessions"))
        points = await read_events(kafka, topics.contact_points, expect=6, settle=1.0)
    finally:
        await producer.stop()
        await service.stop()
    completed = [p for p in points if isinstance(p, ContactPointCompleted)]
    assert len(completed) == 1
    assert len(dead) == 1 and "ValueError" in dict(dead[0].headers)["dlq.reason"].decode()
    assert after_poison < 10


async def read_events_raw(kafka: KafkaSettings, topic: str) -> list[Any]:
    return await read_records(kafka, topic, expect=1, timeout=10)
