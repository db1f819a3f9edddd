"""kill -9 of the notifier at 08:30, in the middle of the morning digests: each person's digest
is delivered once, or (the documented gap: killed after the SMTP server accepted it and before
the ledger write) twice under one Message-ID, counted here."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from devtools.smtp_sink import MailSink
from services.contact_scheduler.domain.plan import ContactPoint, CoursePlan, open_points
from services.notifier.config import NotifierSettings
from shared.calendar import COPENHAGEN
from shared.events import CourseStarted, Person, PersonUpserted
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import course_record, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
MONDAY = date(2026, 11, 30)
EIGHT_THIRTY = datetime(2026, 11, 30, 8, 30, tzinfo=COPENHAGEN)


def plan(i: int) -> CoursePlan:
    point = ContactPoint(point_id="start_call", kind="start_call", due_from=MONDAY,
                         due_by=date(2026, 12, 2), state="blocked_no_consent")
    return CoursePlan(course_id=f"c-{i:02d}", status="open", employee_id=f"e-{i}",
                      leader_id=f"l-{i}", psychologist_id=f"psy-{i % 3}",
                      points={point.point_id: point})


def _spawn(kafka: KafkaSettings, settings: NotifierSettings, crash_at: str | None,
           ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "LEDERKONTAKT_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "LEDERKONTAKT_TOPIC_PREFIX": kafka.topic_prefix,
           # Each process's clock starts at 08:30: the digests are the first thing it does.
           "LEDERKONTAKT_CLOCK_START": EIGHT_THIRTY.isoformat(),
           "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(settings.smtp_port),
           "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": str(settings.smtp_cafile),
           "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": settings.sms_base_url,
           "LEDERKONTAKT_NOTIFIER_SMS_TOKEN": settings.sms_token.get_secret_value(),
           "LEDERKONTAKT_NOTIFIER_CONCURRENCY": "1"}
    if crash_at:
        env["LEDERKONTAKT_CRASH_AT"] = crash_at
    return subprocess.Popen([sys.executable, "-m", "services.notifier.app"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize(("crash_at", "repeats"), [("after_send", 1), ("after_ledger", 0)])
async def test_a_notifier_killed_at_0830_sends_no_second_digest(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings, crash_at: str, repeats: int,
) -> None:
    sink = smtp[0]
    for n in range(3):
        await producer.publish(topics.people, PersonUpserted(occurred_at=EIGHT_THIRTY, person=Person(
            person_id=f"psy-{n}", name=f"Psykolog {n}", email=f"psy{n}@tidlig.dk",
            reminders="digest")))
    for i in range(12):
        course = plan(i)
        # The course's record names the psychologist, as the digest asks; the plan is the
        # scheduler's record of the same course.
        await producer.publish(topics.consents, course_record(CourseStarted(
            occurred_at=EIGHT_THIRTY, course_id=course.course_id, referral_id=f"r-{i}",
            employee_id=f"e-{i}", leader_id=f"l-{i}", psychologist_id=f"psy-{i % 3}",
            team_lead_id="tl-1", start_date=MONDAY)))
        listed = open_points(course)
        assert listed is not None
        await producer.send(topics.open_points, listed.model_dump_json().encode(),
                            course.course_id)
    crashing = _spawn(kafka, notifier_settings, crash_at)
    assert crashing.wait(90) == 137  # killed right after its first digest
    assert len(sink.mails) == 1
    survivor = _spawn(kafka, notifier_settings, None)
    try:
        await wait_for(lambda: len({m.message_id for m in sink.mails}) == 3, timeout=60)
        await wait_for(lambda: len(sink.mails) >= 3 + repeats, timeout=10)
    finally:
        survivor.terminate()
        assert survivor.wait(30) == 0
    per_person = collections.Counter(m.to for m in sink.mails)
    per_id = collections.Counter(m.message_id for m in sink.mails)
    print(f"\n{crash_at}: {len(sink.mails)} digests delivered, {len(per_id)} distinct, "
          f"{sum(per_id.values()) - len(per_id)} repeated under the same Message-ID")
    assert sorted(per_person) == ["psy0@tidlig.dk", "psy1@tidlig.dk", "psy2@tidlig.dk"]
    assert sum(per_id.values()) - len(per_id) == repeats
    assert len(per_id) == 3  # one Message-ID per person and day, whatever was repeated
    assert all(m.subject == "Dagens lederkontakter 30.11.2026" for m in sink.mails)
