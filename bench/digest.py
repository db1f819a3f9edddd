"""The morning digests at scale: N active courses over M psychologists, all digests built and
handed to a local SMTP server (STARTTLS, its own process); the time from 08:30 until the last
digest is accepted, against raw aiosmtplib sending as many mails of the same size to the same
server in the same run.

    .venv/bin/python bench/digest.py --courses 1000000 --psychologists 10000

The courses' open points are written straight to `contact-points.open` and their consent and
members to `consents` (the scheduler itself is measured by scheduler_scale.py); the notifier rebuilds its
views from them before 08:30, as it would at start, and that rebuild is reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import time
from dataclasses import replace
from datetime import date, datetime
from email.message import EmailMessage

import aiosmtplib
from common import (
    SMTP_CONNECTIONS,
    SmtpServerProcess,
    broker,
    fresh_topics,
    peak_rss_mb,
    write_result,
)

from devtools.sms_gateway import SmsGatewayDouble
from services.contact_scheduler.domain.plan import ContactPoint, CoursePlan, open_points
from services.notifier.adapters.plans import course_contacts
from services.notifier.adapters.smtp import build_message
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from services.notifier.domain.digest import build_digest
from services.notifier.domain.digest_render import render_digest
from services.notifier.ports import MailParts
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseMembers,
    Person,
    PersonUpserted,
    encode_event,
)
from shared.kafka import EventProducer, Record, event_record
from shared.topics import Topics

MONDAY = date(2026, 11, 30)
EIGHT_THIRTY = datetime(2026, 11, 30, 8, 30, tzinfo=COPENHAGEN)
BEFORE = datetime(2026, 11, 30, 8, 0, tzinfo=COPENHAGEN)
# Where a course's open point stands on the Monday, by the course's number: a quarter of a
# psychologist's courses have something to say today, the rest are further ahead.
DATES = {0: (MONDAY, date(2026, 12, 2), False),             # due today
         1: (date(2026, 11, 20), date(2026, 11, 24), False),  # overdue
         2: (MONDAY, date(2026, 12, 2), True),               # waiting for consent
         3: (date(2026, 12, 3), date(2026, 12, 7), False),     # within five working days
         4: (date(2026, 12, 4), date(2026, 12, 8), False)}
FAR = (date(2027, 2, 1), date(2027, 2, 3), False)


def plan(i: int, psychologists: int) -> CoursePlan:
    due_from, due_by, blocked = DATES.get((i // psychologists) % 20, FAR)
    point = ContactPoint(point_id="start_call", kind="start_call", due_from=due_from,
                         due_by=due_by, state="blocked_no_consent" if blocked else "scheduled")
    return CoursePlan(course_id=f"c-{i:08x}", status="open", employee_id=f"e-{i}",
                      leader_id=f"l-{i}", psychologist_id=f"psy-{i % psychologists}",
                      points={"start_call": point})


async def seed(producer: EventProducer, topics: Topics, courses: int, psychologists: int) -> None:
    await producer.learn_partitions(topics.open_points, topics.consents, topics.people)
    people = [event_record(topics.people, PersonUpserted(occurred_at=BEFORE, person=Person(
        person_id=f"psy-{p}", name=f"Psykolog {p}", email=f"psy{p}@tidlig.dk",
        reminders="digest")))
        for p in range(psychologists)]
    await producer.send_records(people)
    chunk: list[Record] = []
    for i in range(courses):
        course = plan(i, psychologists)
        blocked = course.points["start_call"].state == "blocked_no_consent"
        key = course.course_id.encode()
        listed = open_points(course)
        assert listed is not None
        chunk.append((topics.open_points, None, key, listed.model_dump_json().encode(), []))
        # The course's record names the psychologist: the digest takes a course only from it.
        members = CourseMembers(started=True, employee_id=f"e-{i}", leader_id=f"l-{i}",
                                psychologist_id=course.psychologist_id, team_lead_id="tl-1")
        consent = ConsentRecorded(occurred_at=BEFORE, course_id=course.course_id, state=ConsentState(
            leader_contact=ConsentStatement(agreed=not blocked, as_of=BEFORE)), members=members)
        chunk.append((topics.consents, None, key, encode_event(consent), []))
        if len(chunk) >= 20000:
            await producer.send_records(chunk)
            chunk = []
    await producer.send_records(chunk)


def digest_size(courses_in_all: int, psychologists: int) -> tuple[int, int]:
    """The wire size of psychologist 0's digest, and how many lines it has."""
    courses = [replace(c, psychologist_id=p.psychologist_id, team_lead_id="tl-1")
               for p in (plan(i, psychologists) for i in range(0, courses_in_all, psychologists))
               if (listed := open_points(p)) is not None
               and (c := course_contacts(listed.model_dump_json().encode())) is not None]
    yes = ConsentState(leader_contact=ConsentStatement(agreed=True, as_of=BEFORE))
    no = ConsentState(leader_contact=ConsentStatement(agreed=False, as_of=BEFORE))

    def consent(cid: str) -> ConsentState:
        return no if any(p.blocked for c in courses if c.course_id == cid for p in c.points) else yes

    digest = build_digest("psy-0", MONDAY, courses, consent, WorkingDayCalendar())
    mail = render_digest(digest, "Psykolog 0", "da", "http://127.0.0.1:8080")
    msg = build_message("lederkontakt@tidlig-indsats.dk", "Tidlig Indsats", "psy0@tidlig.dk",
                        mail.subject, mail.body, "digest:psy-0:2026-11-30",
                        MailParts(html=mail.html, language="da", to_name="Psykolog 0"))
    return len(msg.as_bytes()), len(digest.lines)


async def raw_smtp(port: int, cafile: str, count: int, size: int, connections: int) -> float:
    """Seconds for raw aiosmtplib to hand over `count` mails of `size` bytes, nothing else."""
    body = ("Forløb 0011AA22: Ring til lederen (opstartssamtalen), senest 02.12.2026\n" * (
        size // 72 + 1))[:size]

    async def client(k: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True,
                               tls_context=ssl.create_default_context(cafile=cafile))
        await smtp.connect()
        for i in range(k, count, connections):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@tidlig.dk", f"raw{i}@x.org", "Dagens"
            msg.set_content(body)
            await smtp.send_message(msg)
        await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(connections)))
    return time.perf_counter() - start


async def run(bootstrap: str, courses: int, psychologists: int) -> dict[str, object]:
    settings = await fresh_topics(bootstrap)
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    t = time.perf_counter()
    await seed(producer, topics, courses, psychologists)
    seed_s = time.perf_counter() - t
    await producer.stop()
    server = SmtpServerProcess()
    sms = SmsGatewayDouble().start()
    clock = ManualClock(BEFORE)
    notifier = NotifierSettings(smtp_port=server.port, smtp_cafile=server.cafile,
                                sms_base_url=sms.url, smtp_connections=SMTP_CONNECTIONS)
    service = NotifierService(settings, notifier, clock)
    t = time.perf_counter()
    await service.start()
    while not service.ledger.ready.is_set():
        await asyncio.sleep(0.05)
    views_s = time.perf_counter() - t
    clock.at = EIGHT_THIRTY
    t0 = time.time()
    while server.count < psychologists and time.time() - t0 < 1800:
        await asyncio.sleep(0.05)
    await service.stop()
    sms.stop()
    mails = server.received()
    digest_s = max(at for _, at in mails) - t0
    size, lines = digest_size(courses, psychologists)
    raw_server = SmtpServerProcess()
    raw_s = await raw_smtp(raw_server.port, raw_server.cafile, len(mails), size, SMTP_CONNECTIONS)
    raw_server.received()
    return {"courses": courses, "psychologists": psychologists, "digests": len(mails),
            "digest_bytes": size, "digest_lines": lines, "smtp_connections": SMTP_CONNECTIONS,
            "seed_s": round(seed_s, 1), "views_ready_s": round(views_s, 1),
            "from_0830_to_last_digest_accepted_s": round(digest_s, 2),
            "raw_aiosmtplib_same_count_and_size_s": round(raw_s, 2),
            "ratio": round(digest_s / raw_s, 2),
            "peak_rss_mb": round(peak_rss_mb(os.getpid()), 1),
            "note": "views_ready_s: notifier start with the people, consents and plans views "
                    "rebuilt from the topics; the digest time starts at 08:30 on its clock"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--courses", type=int, default=1_000_000)
    parser.add_argument("--psychologists", type=int, default=10_000)
    args = parser.parse_args()
    with broker() as bootstrap:
        result = asyncio.run(run(bootstrap, args.courses, args.psychologists))
    write_result("digest", result)


if __name__ == "__main__":
    main()
