"""The reporting service building a year's reports from the topics (real broker).

A simulated year of courses (1,500 by default, about 20 events each: the referral, the
course's start and end, session events, contact points, consent, leader contacts, plans) is
written to the topics first; then the reporting service starts as a process of its own with a
new consumer group and builds every report of the year. Measured: the seconds from its start
until the year's report on `reports` counts every course, the events/s that makes, the
service's peak RSS, and the last report build's own time; against the raw aiokafka
passthrough (consume -> produce, no logic) over as many events on the same broker, same run.

    .venv/bin/python bench/reporting.py [--courses 1500 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from common import REPO, broker, fresh_topics, peak_rss_mb, service_env, write_result

from services.referral.domain.intake import course_id_for
from services.reporting.adapters.reports_in import read_reports
from services.reporting.domain.orgunits import OrgUnits
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    ContactPointCompleted,
    ContactPointDue,
    ContactPointScheduled,
    CourseEnded,
    CourseStarted,
    Event,
    LeaderContactLogged,
    PlanSet,
    SessionHeld,
    SessionScheduled,
)
from shared.kafka import EventProducer, event_record
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.samples import referral

CAL = WorkingDayCalendar()
UNITS = OrgUnits.from_toml((REPO / "config" / "org-units.toml").read_text()).units


def course_events(i: int, topics: Topics, rng: random.Random) -> list[tuple[str, Event]]:
    """One course's life in about 20 events, spread over 2026."""
    referred = date(2026, 1, 2) + timedelta(days=rng.randrange(350))
    at = datetime(referred.year, referred.month, referred.day, 10, tzinfo=COPENHAGEN)
    rid = f"bench-{i}"
    cid = course_id_for(rid)
    c = {"occurred_at": at, "course_id": cid}
    start = referred
    due = CAL.add_working_days(start, 2)
    call = CAL.add_working_days(start, rng.choice([1, 1, 2, 2, 3]))
    call_at = datetime(call.year, call.month, call.day, 11, tzinfo=COPENHAGEN)
    end = start + timedelta(days=rng.randrange(20, 60))
    cp = {**c, "contact_point_id": "start_call", "kind": "start_call", "due_from": start,
          "due_by": due, "psychologist_id": f"psy-{i % 15}"}
    agreed = rng.random() < 0.8
    state = ConsentState(leader_contact=ConsentStatement(agreed=agreed, as_of=at))
    out: list[tuple[str, Event]] = [
        (topics.referrals, referral(rid, consent=agreed, occurred_at=at,
                                    unit=rng.choice([*UNITS, "Kantinen"]),
                                    reason_category="stress_related" if rng.random() < 0.58
                                    else "other")),
        (topics.courses, CourseStarted(**c, referral_id=rid, employee_id=f"e-{i}",
                                       leader_id=f"l-{i}", psychologist_id=f"psy-{i % 15}",
                                       start_date=start,
                                       employee_consents_to_leader_contact=agreed)),
        (topics.consents, ConsentRecorded(**c, state=state)),
        (topics.contact_points, ContactPointScheduled(**cp)),
        (topics.contact_points, ContactPointDue(**cp)),
        (topics.sessions, LeaderContactLogged(**{**c, "occurred_at": call_at},
                                              contact_kind="start_call", at=call_at)),
        (topics.contact_points, ContactPointCompleted(**cp)),
    ]
    for k in range(4):
        when = at + timedelta(days=7 * (k + 1))
        out.append((topics.sessions, SessionScheduled(**c, session_id=f"s{k}", at=when)))
        out.append((topics.sessions, SessionHeld(**c, session_id=f"s{k}", at=when)))
    for _ in range(rng.randrange(3)):
        out.append((topics.sessions, LeaderContactLogged(**c, contact_kind="follow_up",
                                                         at=at + timedelta(days=10))))
    if rng.random() < 0.3:
        out.append((topics.sessions, PlanSet(**c, plan_id="p", plan_kind="return_to_work",
                                             review_date=end)))
    end_at = datetime(end.year, end.month, end.day, 12, tzinfo=COPENHAGEN)
    out.append((topics.sessions, CourseEnded(**{**c, "occurred_at": end_at}, end_date=end)))
    out.append((topics.sessions, LeaderContactLogged(**{**c, "occurred_at": end_at},
                                                     contact_kind="end_contact", at=end_at)))
    return out


async def produce_year(settings: KafkaSettings, courses: int) -> int:
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    rng = random.Random(15)
    sent = 0
    chunk: list[tuple[str, Event]] = []
    for i in range(courses):
        chunk.extend(course_events(i, topics, rng))
        if len(chunk) >= 20_000 or i == courses - 1:
            await producer.send_records([event_record(t, e) for t, e in chunk])
            sent += len(chunk)
            chunk = []
    await producer.stop()
    return sent


async def passthrough(settings: KafkaSettings, count: int) -> float:
    """Messages/s of a consume -> produce loop with no logic, on the same broker."""
    topics = Topics(settings.topic_prefix)
    kwargs = settings.aiokafka_kwargs()
    admin = AIOKafkaAdminClient(**kwargs)
    await admin.start()
    await admin.create_topics([NewTopic(topics.name(n), 6, 1) for n in ("raw-in", "raw-out")])
    await admin.close()
    producer = AIOKafkaProducer(**kwargs, acks="all", enable_idempotence=True)
    await producer.start()
    payload = b"x" * 400
    for start in range(0, count, 20_000):
        await asyncio.gather(*[await producer.send(topics.name("raw-in"), payload,
                                                   key=str(i).encode())
                               for i in range(start, min(count, start + 20_000))])
    consumer = AIOKafkaConsumer(topics.name("raw-in"), **kwargs, group_id=f"{topics.prefix}raw",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    moved, begin = 0, time.perf_counter()
    while moved < count:
        batch = await consumer.getmany(timeout_ms=500)
        futures = [await producer.send(topics.name("raw-out"), r.value, key=r.key)
                   for part in batch.values() for r in part]
        await asyncio.gather(*futures)
        await consumer.commit()
        moved += len(futures)
    elapsed = time.perf_counter() - begin
    await consumer.stop()
    await producer.stop()
    return count / elapsed


def courses_in_year_report(reports: dict[str, object]) -> int | None:
    report = reports.get("management:2026")
    if report is None:
        return None
    total = next(r for r in report.rows if r.level == "total")  # type: ignore[attr-defined]
    value = total.values["courses_started"]
    return value if isinstance(value, int) else None


async def run_one(bootstrap: str, courses: int) -> dict[str, object]:
    settings = await fresh_topics(bootstrap)
    t0 = time.perf_counter()
    events = await produce_year(settings, courses)
    produce_s = time.perf_counter() - t0
    log = Path(tempfile.mkstemp(prefix="reporting-bench-", suffix=".log")[1])
    env = {**service_env(settings), "LEDERKONTAKT_REPORTING_PUBLISH_SECONDS": "1",
           "LEDERKONTAKT_HTTP_PORT": "0"}
    with log.open("wb") as out:  # noqa: ASYNC230 - once, before the service starts
        proc = subprocess.Popen([sys.executable, "-m", "services.reporting.app"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    start = time.perf_counter()
    peak, counted = 0.0, None
    try:
        while counted != courses and time.perf_counter() - start < 3600 and proc.poll() is None:
            await asyncio.sleep(1.0)
            peak = max(peak, peak_rss_mb(proc.pid))
            counted = courses_in_year_report(await read_reports(settings))  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
        peak = max(peak, peak_rss_mb(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # a report build of minutes does not stop for SIGTERM
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")  # noqa: ASYNC240 - once, after the run
    builds = [json.loads(line) for line in text.splitlines()
              if line.startswith("{") and '"reports_built"' in line]
    last = builds[-1] if builds else {}
    raw = await passthrough(settings, events)
    rate = events / elapsed
    return {"courses": courses, "events": events, "courses_in_year_report": counted,
            "seconds_to_all_reports": round(elapsed, 2), "events_per_s": round(rate, 1),
            "raw_passthrough_per_s": round(raw, 1), "ratio_to_passthrough": round(rate / raw, 3),
            "peak_rss_mb": round(peak, 1), "last_build_seconds": last.get("seconds"),
            "reports": last.get("reports"), "produce_seconds": round(produce_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--courses", type=int, nargs="+", default=[1500, 100_000])
    args = parser.parse_args()
    with broker() as bootstrap:
        runs = [asyncio.run(run_one(bootstrap, n)) for n in args.courses]
    write_result("reporting", {
        "runs": runs,
        "note": "seconds_to_all_reports: from the service's process start (new consumer group, "
                "empty changelog) until the year's report on `reports` counts every course; "
                "includes start-up, group join and the publisher's 1 s rounds"})


if __name__ == "__main__":
    main()
