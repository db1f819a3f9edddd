"""The notifier against the real broker, a real SMTP server with STARTTLS, and an SMS double."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink, start_sink
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseStarted,
    NotificationFacts,
    NotificationRequested,
    Person,
    PersonUpserted,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import course_record, read_events, read_records, wait_for

pytestmark = pytest.mark.integration
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=COPENHAGEN)


LEADER = Person(person_id="lead-1", name="Lars Leder", email="lars@example.org")
PSYCHOLOGIST = Person(person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk",
                      phone="+4520304050")
SMS_LEADER = Person(person_id="lead-2", name="Lone Leder", phone="+4521314151",
                    preferred_channel="sms")


def consent(agreed: bool, at: datetime, course_id: str = "c-1") -> ConsentRecorded:
    """The course's record: its consent, and its people as its start named them."""
    leader = {"c-1": "lead-1", "c-2": "lead-2"}[course_id]
    return course_record(course(course_id, leader), ConsentState(
        leader_contact=ConsentStatement(agreed=agreed, as_of=at))).model_copy(
        update={"occurred_at": at})


def leader_request(nid: str = "c-1:start_call:due:leader", recipient: str = "lead-1",
                   course_id: str = "c-1") -> NotificationRequested:
    return NotificationRequested(
        occurred_at=NOON, course_id=course_id, notification_id=nid, kind="leader_call_coming",
        recipient_id=recipient, recipient_role="leader", psychologist_id="psy-1",
        requires_consent="leader_contact",
        facts=NotificationFacts(contact_kind="start_call", due_date=NOON.date() + timedelta(days=2)))


def course(course_id: str, leader_id: str) -> CourseStarted:
    """The course event the referral service writes the course's people from."""
    started = NOON - timedelta(days=1)
    return CourseStarted(occurred_at=started, course_id=course_id, referral_id=f"r-{course_id}",
                         employee_id=f"emp-{course_id}", leader_id=leader_id,
                         psychologist_id="psy-1", start_date=started.date())


async def seed(producer: EventProducer, topics: Topics, consent_given: bool = True) -> None:
    for person in (LEADER, PSYCHOLOGIST, SMS_LEADER):
        await producer.publish(topics.people, PersonUpserted(occurred_at=NOON, person=person))
    await producer.publish(topics.consents, consent(consent_given, NOON - timedelta(days=1)))
    await producer.publish(topics.consents, consent(consent_given, NOON - timedelta(days=1),
                                                    "c-2"))


async def statuses(kafka: KafkaSettings, topics: Topics, expect: int, settle: float = 0.0) -> list[str]:
    events = await read_events(kafka, topics.notifications_status, expect=expect, settle=settle)
    return [e.type.removeprefix("notification.") for e in events]  # type: ignore[attr-defined]


async def running(kafka: KafkaSettings, settings: NotifierSettings,
                  clock: ManualClock) -> NotifierService:
    service = NotifierService(kafka, settings, clock)
    await service.start()
    return service


async def test_a_consented_leader_message_is_delivered_once_even_after_a_restart(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink = smtp[0]
    await seed(producer, topics)
    service = await running(kafka, notifier_settings, ManualClock(NOON))
    await producer.publish(topics.notifications_requested, leader_request())
    await wait_for(lambda: len(sink.mails) == 1)
    await service.stop()
    [mail] = sink.mails
    assert mail.recipients == ["lars@example.org"] and "Pia Psykolog ringer til dig" in mail.body
    assert mail.message_id.endswith("@tidlig-indsats.dk>")
    # Over the wire: text and an HTML part with the same words, the language, the name in To:.
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.html is not None and "Pia Psykolog ringer til dig" in mail.html
    assert mail.message["Content-Language"] == "da"
    assert str(mail.message["To"]) == "Lars Leder <lars@example.org>"

    again = await running(kafka, notifier_settings, ManualClock(NOON))
    await producer.publish(topics.notifications_requested, leader_request())
    assert await statuses(kafka, topics, expect=2) == ["sent", "sent"]
    await again.stop()
    assert len(sink.mails) == 1


async def test_consent_withdrawn_between_request_and_send_suppresses_the_message(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    await seed(producer, topics, consent_given=True)
    await producer.publish(topics.notifications_requested, leader_request())
    await producer.publish(topics.consents, consent(False, NOON))
    service = await running(kafka, notifier_settings, ManualClock(NOON))
    [status] = await read_events(kafka, topics.notifications_status, expect=1)
    await service.stop()
    assert status.type == "notification.suppressed"  # type: ignore[attr-defined]
    assert status.reason == "no_consent_to_leader_contact"  # type: ignore[attr-defined]
    assert smtp[0].mails == []


async def test_a_temporary_smtp_failure_is_retried_and_then_delivered(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink = smtp[0]
    sink.replies = ["451 4.3.0 try again later", "421 4.4.2 busy"]
    await seed(producer, topics)
    service = await running(kafka, notifier_settings, clock := ManualClock(NOON))
    await producer.publish(topics.notifications_requested, leader_request())
    await wait_for(lambda: len(service.ledger) == 1)
    for _ in range(100):  # let the retry moments pass
        clock.at += timedelta(seconds=1)
        if sink.mails:
            break
        await __import__("asyncio").sleep(0.1)
    got = await statuses(kafka, topics, expect=3)
    await service.stop()
    assert len(sink.mails) == 1
    assert got == ["deferred", "deferred", "sent"]


async def test_a_permanent_smtp_failure_is_failed_and_dead_lettered(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    smtp[0].replies = ["550 5.1.1 no such user"]
    await seed(producer, topics)
    service = await running(kafka, notifier_settings, ManualClock(NOON))
    await producer.publish(topics.notifications_requested, leader_request())
    [status] = await read_events(kafka, topics.notifications_status, expect=1)
    [dead] = await read_records(kafka, topics.dlq("notifications.requested"), expect=1)
    await service.stop()
    assert status.type == "notification.failed" and "550" in status.reason  # type: ignore[attr-defined]
    assert "550" in dict(dead.headers)["dlq.reason"].decode()


async def test_an_sms_at_23_is_deferred_to_0800(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, sms: SmsGatewayDouble,
    notifier_settings: NotifierSettings,
) -> None:
    await seed(producer, topics)
    clock = ManualClock(datetime(2026, 11, 26, 23, 0, tzinfo=COPENHAGEN))
    service = await running(kafka, notifier_settings, clock)
    await producer.publish(topics.notifications_requested,
                           leader_request("c-1:sms", recipient="lead-2", course_id="c-2"))
    [deferred] = await read_events(kafka, topics.notifications_status, expect=1)
    assert deferred.type == "notification.deferred"  # type: ignore[attr-defined]
    assert deferred.until == datetime(2026, 11, 27, 8, 0, tzinfo=COPENHAGEN)  # type: ignore[attr-defined]
    assert sms.messages == []
    clock.at = datetime(2026, 11, 27, 8, 0, 1, tzinfo=COPENHAGEN)
    await wait_for(lambda: len(sms.messages) == 1)
    await service.stop()
    [message] = sms.messages
    assert message["recipients"] == [{"msisdn": 4521314151}]
    assert message["userref"] == "c-1:sms" and "Pia Psykolog" in message["message"]


async def test_mail_is_never_sent_without_starttls(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer,
    notifier_settings: NotifierSettings,
) -> None:
    controller, plain = start_sink(None)
    settings = notifier_settings.model_copy(update={"smtp_port": controller.port, "max_attempts": 1})
    await seed(producer, topics)
    service = await running(kafka, settings, ManualClock(NOON))
    await producer.publish(topics.notifications_requested, leader_request())
    [status] = await read_events(kafka, topics.notifications_status, expect=1)
    await service.stop()
    controller.stop()
    assert status.type == "notification.failed" and plain.mails == []  # type: ignore[attr-defined]


async def test_garbage_on_the_people_and_consents_topics_does_not_stop_the_views(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    await producer.send(topics.people, b"{not an event", "lead-1")
    await producer.send(topics.consents, b'{"type": "consent.recorded", "schema_version": 9}', "c-1")
    service = await running(kafka, notifier_settings, ManualClock(NOON))
    await seed(producer, topics)
    await producer.publish(topics.notifications_requested, leader_request())
    await wait_for(lambda: len(smtp[0].mails) == 1)
    await service.stop()


async def test_a_forged_staff_message_to_a_leader_is_suppressed_not_in_role(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink = smtp[0]
    await seed(producer, topics, consent_given=False)
    service = await running(kafka, notifier_settings, ManualClock(NOON))
    forged = leader_request("forged-1").model_copy(update={"recipient_role": "psychologist"})
    await producer.publish(topics.notifications_requested, forged)
    [status] = await read_events(kafka, topics.notifications_status, expect=1)
    # A poison request, then a valid one on the same partition: the poison goes to the DLQ
    # and the next request is settled within seconds.
    await producer.send(topics.notifications_requested, b"[" * 5000, "c-1")
    await producer.publish(topics.notifications_requested,
                           leader_request("c-1:after-poison").model_copy(
                               update={"kind": "referral_receipt"}))
    [dead] = await read_records(kafka, topics.dlq("notifications.requested"), expect=1,
                                timeout=10)
    settled = await read_events(kafka, topics.notifications_status, expect=2, timeout=10)
    await service.stop()
    assert status.type == "notification.suppressed"  # type: ignore[attr-defined]
    assert status.reason == "not_in_role"  # type: ignore[attr-defined]
    assert "RecursionError" in dict(dead.headers)["dlq.reason"].decode()
    assert [s.notification_id for s in settled] == ["forged-1", "c-1:after-poison"]  # type: ignore[attr-defined]
    assert [m.subject for m in sink.mails] == ["Vi har modtaget din tilmelding"]


class HeldSms:
    """An SMS provider that takes a message and answers only once the test lets it."""

    def __init__(self) -> None:
        self.taken = asyncio.Event()
        self.answer = asyncio.Event()

    async def send(self, msisdn: str, text: str, reference: str) -> str:
        self.taken.set()
        await self.answer.wait()
        return f"sms-{reference}"

    async def close(self) -> None:
        self.answer.set()


async def test_a_send_that_hangs_does_not_hold_up_the_requests_behind_it(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink, held = smtp[0], HeldSms()
    await seed(producer, topics)
    service = NotifierService(kafka, notifier_settings, ManualClock(NOON), sms=held)
    await service.start()
    await producer.publish(topics.notifications_requested,
                           leader_request("c-2:sms", recipient="lead-2", course_id="c-2"))
    await asyncio.wait_for(held.taken.wait(), 20)
    # The SMS provider has not answered; a mail requested after it goes out all the same.
    await producer.publish(topics.notifications_requested, leader_request())
    await wait_for(lambda: len(sink.mails) == 1)
    assert not held.answer.is_set()
    held.answer.set()
    assert sorted(await statuses(kafka, topics, expect=2)) == ["sent", "sent"]
    await service.stop()
