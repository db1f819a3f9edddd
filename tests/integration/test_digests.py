"""Morning digests on the real broker: the scheduler plans, the notifier sends one digest per
person per working day to a real SMTP server."""

from __future__ import annotations

import asyncio
import collections
from datetime import date, datetime, timedelta

import pytest

from devtools.smtp_sink import Mail, MailSink
from services.contact_scheduler.app import SchedulerService
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseStarted,
    LeaderContactLogged,
    Person,
    PersonUpserted,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import course_record, wait_for

pytestmark = pytest.mark.integration
PSYCHOLOGISTS = [Person(person_id=f"psy-{n}", name=f"Psykolog {n}", email=f"psy{n}@tidlig.dk",
                        language="en" if n == 3 else "da", reminders="digest") for n in (1, 2, 3)]
TEAM_LEAD = Person(person_id="tl-1", name="Tove Teamleder", email="tove@tidlig.dk",
                   reminders="digest")
MONDAY, TUESDAY = date(2026, 12, 21), date(2026, 12, 22)
# Monday 21 to Monday 28 December 2026: the 24th (day off), 25th and 26th (holidays, the 26th
# a Saturday) and Sunday the 27th have no digest.
DAYS = [MONDAY + timedelta(days=n) for n in range(8)]
WORKING = {date(2026, 12, 21), date(2026, 12, 22), date(2026, 12, 23), date(2026, 12, 28)}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=COPENHAGEN)


def course(i: int) -> CourseStarted:
    start = MONDAY if i < 6 else TUESDAY
    return CourseStarted(occurred_at=at(start, 7), course_id=f"c-{i:02d}aa", referral_id=f"r-{i}",
                         employee_id=f"e-{i}", leader_id=f"l-{i}",
                         psychologist_id=f"psy-{i % 3 + 1}", team_lead_id="tl-1",
                         start_date=start)


def consent(i: int) -> ConsentRecorded:
    """The course's record on `consents`: its consent and who holds which role in it."""
    moment = at(MONDAY, 6)
    return course_record(course(i), ConsentState(
        leader_contact=ConsentStatement(agreed=i % 2 == 0, as_of=moment))).model_copy(
        update={"occurred_at": moment})  # written before the scheduler's clock starts


def digests(sink: MailSink) -> list[Mail]:
    return [m for m in sink.mails
            if m.subject.startswith(("Dagens lederkontakter", "Today's leader contacts"))]


async def test_one_digest_per_person_per_working_day_and_one_overdue_digest_for_the_team_lead(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink = smtp[0]
    clock = ManualClock(at(MONDAY, 6))
    for person in (*PSYCHOLOGISTS, TEAM_LEAD):
        await producer.publish(topics.people, PersonUpserted(occurred_at=clock.at, person=person))
    await producer.publish_all([(topics.consents, consent(i)) for i in range(12)])
    scheduler = SchedulerService(kafka, clock, tick_interval=0.05)
    notifier = NotifierService(kafka, notifier_settings, clock)
    await scheduler.start()
    await notifier.start()
    try:
        sent_by_day: dict[date, list[Mail]] = {}
        for day in DAYS:
            clock.at = at(day, 7)
            started = [course(i) for i in range(12) if course(i).start_date == day]
            await producer.publish_all([(topics.courses, c) for c in started])
            await wait_for(lambda s=started: all(  # type: ignore[misc]
                notifier.plans.get(c.course_id) is not None for c in s))
            if day == date(2026, 12, 28):
                # Completed a minute before the digests: not in them.
                clock.at = at(day, 8, 29)
                await producer.publish(topics.sessions, LeaderContactLogged(
                    occurred_at=clock.at, course_id="c-00aa", contact_kind="start_call",
                    at=clock.at))
                await wait_for(lambda: _completed(scheduler, "c-00aa"))
            before = len(digests(sink))
            clock.at = at(day, 8, 31)
            if day in WORKING:
                expected = 3 + (day == date(2026, 12, 28))
                await wait_for(lambda b=before, e=expected: len(digests(sink)) >= b + e, timeout=30)
            await asyncio.sleep(1.0)  # time for a digest that should not be
            clock.at = at(day, 16)
            sent_by_day[day] = digests(sink)[before:]
    finally:
        await notifier.stop()
        await scheduler.stop()

    per_day = {d: sorted(m.to for m in mails) for d, mails in sent_by_day.items() if mails}
    psychologists = [p.email for p in PSYCHOLOGISTS]
    assert per_day == {
        date(2026, 12, 21): psychologists, date(2026, 12, 22): psychologists,
        date(2026, 12, 23): psychologists,
        date(2026, 12, 28): sorted([*psychologists, "tove@tidlig.dk"]),
    }
    ids = collections.Counter(m.message_id for m in digests(sink))
    assert set(ids.values()) == {1}
    monday = {m.to: m for m in sent_by_day[date(2026, 12, 28)]}
    # The team lead's digest: every overdue start call of the team, nothing else.
    lead = monday["tove@tidlig.dk"].body
    assert "Overskredet i teamet" in lead and "I dag" not in lead
    # Started on the 21st, due by the 23rd, with consent: c-02 and c-04 (c-00 was completed).
    assert lead.count("Ring til lederen (opstartssamtalen)") == 2
    assert "00AA" not in monday["psy1@tidlig.dk"].body  # completed at 08:29
    assert monday["psy3@tidlig.dk"].subject == "Today's leader contacts 28.12.2026"
    html = monday["psy1@tidlig.dk"].html
    assert html is not None and "<h2>I dag</h2>" in html
    assert monday["psy1@tidlig.dk"].message["To"] == "Psykolog 1 <psy1@tidlig.dk>"
    # Psychologists with the digest get none of the single reminders.
    assert not [m for m in sink.mails if m.subject.startswith(("Påmindelse", "Drøft", "Overskredet"))]


def _completed(scheduler: SchedulerService, course_id: str) -> bool:
    plan = scheduler.plans.get(course_id)
    return plan is not None and plan.points["start_call"].state == "completed"
