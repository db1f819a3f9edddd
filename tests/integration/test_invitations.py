"""Calendar invitations on the real broker: a meeting scheduled on `sessions` reaches the real
SMTP server as a mail with its iCalendar object, under the course's consent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from icalendar import Calendar

from devtools.smtp_sink import Mail, MailSink
from services.contact_scheduler.app import SchedulerService
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentState,
    ConsentStatement,
    CourseStarted,
    MeetingCancelled,
    MeetingScheduled,
    NotificationSuppressed,
    Person,
    PersonUpserted,
)
from shared.kafka import EventProducer
from shared.notification_kinds import MEETING_KINDS
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import course_record, read_events, wait_for

pytestmark = pytest.mark.integration
INVITATION_KINDS = frozenset(MEETING_KINDS)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
MEETING_AT = datetime(2026, 12, 3, 10, 0, tzinfo=COPENHAGEN)
PEOPLE = [Person(person_id="psy-i", name="Pia Psykolog", email="pia@tidlig.dk", reminders="each"),
          Person(person_id="lead-a", name="Lars Leder", email="lars@example.org"),
          Person(person_id="emp-a", name="Emma Ansat", email="emma@example.org"),
          Person(person_id="lead-b", name="Lone Leder", email="lone@example.org"),
          Person(person_id="emp-b", name="Erik Ansat", email="erik@example.org")]


def course(letter: str) -> CourseStarted:
    return CourseStarted(occurred_at=NOW, course_id=f"c-inv{letter}", referral_id=f"r-{letter}",
                         employee_id=f"emp-{letter}", leader_id=f"lead-{letter}",
                         psychologist_id="psy-i", start_date=NOW.date())


def invitations(sink: MailSink, to: str | None = None) -> list[Mail]:
    """The mails that carry a calendar object (the course's reminders go out too)."""
    return [m for m in sink.mails if m.calendar is not None and to in (None, m.to)]


def calendar_of(mail: Mail) -> Calendar:
    assert mail.calendar is not None, mail.subject
    return Calendar.from_ical(mail.calendar)


async def test_a_scheduled_call_reaches_psychologist_and_consenting_leader_with_its_ics(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink = smtp[0]
    clock = ManualClock(NOW)
    for person in PEOPLE:
        await producer.publish(topics.people, PersonUpserted(occurred_at=NOW, person=person))
    # Course a: the employee consents to leader contact (not to a three-party meeting);
    # course b: no consent at all.
    await producer.publish_all([
        (topics.consents, course_record(course("a"), ConsentState(
            leader_contact=ConsentStatement(agreed=True, as_of=NOW)))),
        (topics.consents, course_record(course("b")))])
    await producer.publish_all([(topics.courses, course("a")), (topics.courses, course("b"))])
    scheduler = SchedulerService(kafka, clock, tick_interval=0.05)
    notifier = NotifierService(kafka, notifier_settings, clock)
    await scheduler.start()
    await notifier.start()
    try:
        await wait_for(lambda: all(scheduler.plans.get(c) is not None
                                   and scheduler.plans.get(c).status == "open"  # type: ignore[union-attr]
                                   for c in ("c-inva", "c-invb")), timeout=30)

        def call(course_id: str, starts: datetime = MEETING_AT) -> MeetingScheduled:
            return MeetingScheduled(occurred_at=clock.now(), course_id=course_id,
                                    meeting_id="call-1", meeting_kind="leader_call",
                                    starts_at=starts, duration_minutes=30)

        await producer.publish_all([
            (topics.sessions, call("c-inva")), (topics.sessions, call("c-invb")),
            (topics.sessions, MeetingScheduled(
                occurred_at=NOW, course_id="c-inva", meeting_id="tpm-1",
                meeting_kind="three_party_meeting", starts_at=MEETING_AT + timedelta(days=1)))])
        # Call a: psychologist and leader; call b and the three-party meeting: the psychologist.
        await wait_for(lambda: len(invitations(sink)) >= 4, timeout=60)
        assert sorted((m.to, m.subject) for m in invitations(sink)) == [
            ("lars@example.org", "Samtale med psykolog 03.12.2026 kl. 10.00"),
            ("pia@tidlig.dk", "Samtale med psykolog 03.12.2026 kl. 10.00"),
            ("pia@tidlig.dk", "Samtale med psykolog 03.12.2026 kl. 10.00"),
            ("pia@tidlig.dk", "Trepartssamtale 04.12.2026 kl. 10.00")]
        [to_lars] = invitations(sink, "lars@example.org")
        assert to_lars.message.get_content_type() == "multipart/mixed"
        assert to_lars.html is not None and "Pia Psykolog" in to_lars.body
        first = calendar_of(to_lars)
        assert str(first["METHOD"]) == "REQUEST"
        [event] = first.events
        assert event.start == MEETING_AT and str(event["ATTENDEE"]) == "mailto:lars@example.org"
        assert [tz.tz_name for tz in first.timezones] == ["Europe/Copenhagen"]

        # Nobody without the consent the news needs got it, and each suppression says why.
        status = await read_events(kafka, topics.notifications_status, expect=10_000, timeout=5)
        suppressed = sorted((e.course_id or "", e.recipient_role, e.reason) for e in status
                            if isinstance(e, NotificationSuppressed) and e.kind in INVITATION_KINDS)
        assert suppressed == [("c-inva", "employee", "no_three_party_agreement"),
                              ("c-inva", "leader", "no_three_party_agreement"),
                              ("c-invb", "leader", "no_consent_to_leader_contact")]

        # Moved, then cancelled: the same UID, a higher SEQUENCE each time, METHOD:CANCEL last.
        clock.at = NOW + timedelta(minutes=10)
        await producer.publish(topics.sessions, call("c-inva", MEETING_AT + timedelta(hours=3)))
        await wait_for(lambda: len(invitations(sink, "lars@example.org")) >= 2, timeout=30)
        clock.at = NOW + timedelta(minutes=20)
        await producer.publish(topics.sessions, MeetingCancelled(
            occurred_at=clock.now(), course_id="c-inva", meeting_id="call-1"))
        await wait_for(lambda: len(invitations(sink, "lars@example.org")) >= 3, timeout=30)
    finally:
        await notifier.stop()
        await scheduler.stop()

    to_lars_all = invitations(sink, "lars@example.org")
    assert [m.subject for m in to_lars_all] == [
        "Samtale med psykolog 03.12.2026 kl. 10.00",
        "Nyt tidspunkt: Samtale med psykolog 03.12.2026 kl. 13.00",
        "Aflyst: samtale med psykolog 03.12.2026 kl. 13.00"]
    versions = [calendar_of(m) for m in to_lars_all]
    assert [str(c["METHOD"]) for c in versions] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(c.events[0]["UID"]) for c in versions}) == 1
    assert [int(c.events[0]["SEQUENCE"]) for c in versions] == [0, 1, 2]
    assert len({m.message_id for m in sink.mails}) == len(sink.mails)
