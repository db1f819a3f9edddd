"""Erasure on the real broker: a person's courses close, nothing more is requested or sent to or
about them, and their contact details and health fields are gone from every topic within the
bound."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import date, datetime, timedelta

import pytest

from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink
from services.contact_scheduler.app import SchedulerService
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from services.ops.erasure import erase
from services.referral.app import ReferralService
from services.referral.domain.intake import course_id_for, person_id_for
from services.reporting.app import ReportingService
from services.reporting.config import ReportingSettings
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
    ReferredPerson,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import RetentionSettings, Topics, reconcile_topics
from tests.integration.helpers import read_events, wait_for
from tests.samples import AT, referral

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


async def _records(kafka: KafkaSettings, topic_names: list[str]) -> list[bytes]:
    """Every record of the topics, from the beginning: its key, value and headers as bytes."""
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
        records: list[bytes] = []
        for tp in tps:
            consumer.seek(tp, begins[tp])
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += [b"\0".join([r.key or b"", r.value or b"",
                                        *(v for _, v in r.headers)]) for r in batch]
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: object, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # type: ignore[attr-defined]
    return consumer.partitions_for_topic(topic) or set()  # type: ignore[attr-defined]


# A course's health fields as the referral, the referral's facts and the course's facts hold them.
HEALTH = (b'"reason_category"', b'"sick_leave"', b'"stress_related":true',
          b'"stress_related":false', b'"sick_leave_at_referral":true',
          b'"sick_leave_at_referral":false')


def _readable(records: list[bytes], secrets: list[bytes], courses: list[str]) -> list[str]:
    """What of the erased person is still readable: their details anywhere, and a health field
    in any record of one of their courses."""
    found = {s.decode() for s in secrets if any(s in r for r in records)}
    found |= {f"{c}: {h.decode()}" for r in records for c in courses if c.encode() in r
              for h in HEALTH if h in r}
    return sorted(found)


def _about(sink: MailSink, sms: SmsGatewayDouble, person: ReferredPerson,
           nids: set[str]) -> list[str]:
    """Every mail and SMS that reached the erased person or was sent in one of their courses
    (a Message-ID is a hash of the notification id; an SMS's `userref` is the id itself)."""
    hashes = {f"<{hashlib.sha256(n.encode()).hexdigest()[:32]}@" for n in nids}
    mails = [m.message_id for m in sink.mails if str(person.email) in m.recipients
             or any(m.message_id.startswith(h) for h in hashes)]
    phone = int(str(person.phone).lstrip("+"))
    texts = [str(s.get("userref")) for s in sms.messages if s.get("userref") in nids
             or any(r.get("msisdn") == phone for r in s["recipients"])]
    return mails + texts


async def _requested_in(kafka: KafkaSettings, topics: Topics, courses: list[str]) -> set[str]:
    events = await read_events(kafka, topics.notifications_requested, expect=10**6, timeout=2)
    return {e.notification_id for e in events
            if isinstance(e, NotificationRequested) and e.course_id in courses}


async def _short_retention(kafka: KafkaSettings, topics: Topics, short: RetentionSettings) -> None:
    await reconcile_topics(kafka.aiokafka_kwargs(), topics, retention=short)
    for _ in range(40):
        if not await reconcile_topics(kafka.aiokafka_kwargs(), topics, alter=False,
                                      retention=short):
            return
        await asyncio.sleep(0.5)


async def test_an_erased_person_is_unreadable_everywhere_and_hears_and_is_spoken_of_no_more(
    kafka: KafkaSettings, topics: Topics, smtp: tuple[MailSink, int], sms: SmsGatewayDouble,
    notifier_settings: NotifierSettings,
) -> None:
    """Emma is employee in one course and leader in another; the four services run, with mail
    to a real SMTP server and SMS to the gateway double. After her erasure (and a referral
    naming her that arrives late) nothing more is sent to or about her, and once the bound
    has passed no topic yields her name, e-mail, phone or the health fields of her courses."""
    # Raw intake and DLQs keep 4 s (segments of 1 s), compacted topics clean within 2 s.
    short = RetentionSettings(erasure_bound_ms=8_000)
    await _short_retention(kafka, topics, short)
    clock = ManualClock(AT + timedelta(minutes=5))
    sink = smtp[0]
    services = [ReferralService(kafka, clock=clock, retention=short),
                SchedulerService(kafka, clock, tick_interval=0.1),
                NotifierService(kafka, notifier_settings, clock),
                ReportingService(kafka, ReportingSettings(publish_seconds=0.5), clock,
                                 retention=short)]
    await asyncio.gather(*(s.start() for s in services))
    emma = referral("r-emp").employee
    sms_leader = ReferredPerson(name="Lone Leder", email="lone@example.org", phone="+4521314151",
                                preferred_channel="sms")
    other = ReferredPerson(name="Otto Other", email="otto@example.org")
    # Emma's own course (its leader hears by SMS), the one she leads, and one without her.
    mine, led, control = (referral("r-emp", leader=sms_leader), referral("r-led", employee=other,
                          leader=emma), referral("r-ctl", employee=other, leader=sms_leader))
    courses = [course_id_for("r-emp"), course_id_for("r-led"), course_id_for("r-late")]
    try:
        producer = EventProducer(kafka.aiokafka_kwargs())
        await producer.start()
        await producer.publish_all([(topics.referrals, r) for r in (mine, led, control)])
        # The receipts: to Emma as leader, by SMS to her own leader, and to the control's.
        await wait_for(lambda: len(sink.mails) >= 1 and len(sms.messages) >= 2, timeout=30)
        await asyncio.sleep(1.0)
        before = _about(sink, sms, emma, await _requested_in(kafka, topics, courses))
        assert len(before) >= 2

        erasure = await erase(kafka, person_id_for(emma), clock)
        erased_at = time.monotonic()
        assert erasure.courses_closed == sorted(courses[:2])
        # A referral naming her that was still on its way, and one about others.
        await producer.publish_all([(topics.referrals, referral("r-late", leader=sms_leader)),
                                    (topics.referrals, referral("r-ctl2", employee=other,
                                                                leader=sms_leader))])
        await producer.stop()
        await wait_for(lambda: f"{course_id_for('r-ctl2')}:referral_receipt"
                       in {s.get("userref") for s in sms.messages}, timeout=20)
        # The next working morning: whatever is due in any course falls due.
        clock.at = datetime(2026, 11, 27, 9, 0, tzinfo=COPENHAGEN)
        await asyncio.sleep(2.0)
        secrets = [emma.name.encode(), str(emma.email).encode(), str(emma.phone).encode(),
                   str(emma.phone).lstrip("+").encode()]
        everything = [s.name for s in topics.all_specs()]
        while True:
            left = _readable(await _records(kafka, everything), secrets, courses)
            if not left or time.monotonic() - erased_at > short.erasure_bound_ms / 1000 + 20:
                break
            await asyncio.sleep(1.0)
        took = time.monotonic() - erased_at
        after = _about(sink, sms, emma, await _requested_in(kafka, topics, courses))
    finally:
        await asyncio.gather(*(s.stop() for s in services), return_exceptions=True)
    print(f"erased person unreadable on every topic after {took:.1f} s "
          f"(bound {short.erasure_bound_ms / 1000:g} s); {len(before)} mails and texts to or "
          f"about her before, {len(after) - len(before)} after")
    assert left == []
    assert after == before
    # The bound, plus the broker's once-a-second retention check and the cleaner's backoff.
    assert took < short.erasure_bound_ms / 1000 + 10
    assert any(b"otto@example.org" in r for r in await _records(kafka, [topics.people]))


async def test_a_course_closed_by_an_erasure_is_closed_in_what_the_notifier_reads(
    kafka: KafkaSettings, topics: Topics, notifier_settings: NotifierSettings,
) -> None:
    """The notifier knows a course's people only from its `consents` record: the referral
    service writes the course's start there, and closes it there when the erase command
    cancels the course (and dates it when it ends), before anything more can go out in it."""
    clock = ManualClock(AT + timedelta(minutes=5))
    referral_service = ReferralService(kafka, clock=clock)
    notifier = NotifierService(kafka, notifier_settings, clock)
    await asyncio.gather(referral_service.start(), notifier.start())
    erased, ended = course_id_for("r-close"), course_id_for("r-end")
    other = ReferredPerson(name="Otto Other", email="otto@example.org")
    try:
        producer = EventProducer(kafka.aiokafka_kwargs())
        await producer.start()
        await producer.publish_all([(topics.referrals, referral("r-close")),
                                    (topics.referrals, referral("r-end", employee=other))])
        await wait_for(lambda: all((m := notifier.members.get(c)) is not None and m.started
                                   for c in (erased, ended)), timeout=30)
        await producer.publish(topics.sessions, CourseEnded(
            occurred_at=AT, course_id=ended, end_date=date(2026, 11, 27)))
        await producer.stop()
        await erase(kafka, person_id_for(referral().employee), clock)
        await wait_for(lambda: (m := notifier.members.get(erased)) is not None
                       and m.closed_by_erasure, timeout=30)
        await wait_for(lambda: (r := notifier.course_records.get(ended)) is not None
                       and r.closed_at is not None, timeout=30)
        record = notifier.course_records.get(ended)
    finally:
        await asyncio.gather(notifier.stop(), referral_service.stop(), return_exceptions=True)
    leader = person_id_for(referral().leader)
    assert not notifier.members.get(erased).holds(leader, "leader")  # type: ignore[union-attr]
    # An ended course keeps its people until its record is swept: the end contact is to come.
    assert record is not None and record.members is not None
    assert record.members.holds(leader, "leader")
