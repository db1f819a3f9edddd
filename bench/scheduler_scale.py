"""Contact scheduler at scale: memory per active course, state rebuild time after a restart, and
timer lateness when a morning's reminders all fall due at 08:30 (real broker).

    .venv/bin/python bench/scheduler_scale.py --courses 100000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from common import REPO, broker, fresh_topics, peak_rss_mb, rss_mb, write_result

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.reminders import ReminderTimers
from services.contact_scheduler.steps import CourseSteps, EncodedStep
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.clock import ManualClock
from shared.events import CourseStarted
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.state import ChangelogTable
from shared.topics import Topics

DAYS = 40
FIRST = date(2027, 1, 4)
RULES = ContactPlanner(ContactPolicy(), WorkingDayCalendar())


def template(day: int) -> str:
    start = FIRST + timedelta(days=day)
    at = datetime.combine(start, datetime.min.time(), tzinfo=COPENHAGEN)
    event = CourseStarted(occurred_at=at, course_id="COURSE", referral_id="r", employee_id="e",
                          leader_id="l", psychologist_id="psy", team_lead_id="lead",
                          start_date=start, employee_consents_to_leader_contact=True,
                          consent_stated_at=at)
    return RULES.apply(CoursePlan(course_id="COURSE"), event, at).plan.model_dump_json()


async def write_changelog(settings: KafkaSettings, courses: int) -> float:
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    templates = [template(d) for d in range(DAYS)]
    t0 = time.perf_counter()
    pending = []
    for i in range(courses):
        key = f"c-{i:08d}"
        value = templates[i % DAYS].replace("COURSE", key).encode()
        pending.append(await producer._producer.send(topics.scheduler_state, value,
                                                     key=key.encode(), partition=i % 6))
        if len(pending) >= 20_000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await producer.stop()
    return time.perf_counter() - t0


async def worker(settings: KafkaSettings) -> dict[str, object]:
    """Runs in its own process so its memory is the scheduler's alone."""
    topics = Topics(settings.topic_prefix)
    gc.collect()
    baseline = rss_mb()
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    plans: ChangelogTable[CoursePlan] = ChangelogTable(
        topics.scheduler_state, settings.aiokafka_kwargs(), producer,
        encode=lambda p: p.model_dump_json().encode(), decode=CoursePlan.model_validate_json)
    t0 = time.perf_counter()
    await plans.recover(range(6))
    rebuild = time.perf_counter() - t0
    gc.collect()
    held = rss_mb() - baseline
    plans.ready.set()
    first_due = min(p.next_fire_at for _, p in plans.items() if p.next_fire_at)
    # The timer loop's rounds in the minutes before 08:30 prepare what will fire at 08:30.
    clock = ManualClock(first_due - timedelta(minutes=5))
    steps = CourseSteps(topics, producer, plans, RULES, clock)
    handlers = ReminderTimers(steps)
    acked: list[float] = []

    def published(batch: list[EncodedStep]) -> None:
        now = time.perf_counter()
        acked.extend(now for f in batch for _ in range(f.notifications))

    steps.on_published = published
    t0 = time.perf_counter()
    rounds = 0
    while True:
        before = handlers.prepared
        await handlers.tick()
        rounds += 1
        if handlers.prepared == before:
            break
    prepare = time.perf_counter() - t0
    # The loop wakes at the moment itself (sleep_until), so lateness counts from there.
    clock.at = first_due
    start = time.perf_counter()
    moved = await handlers.tick()
    lateness = sorted(a - start for a in acked)
    await producer.stop()
    return {"courses": len(plans), "rebuild_seconds": round(rebuild, 2),
            "memory_mb": round(held, 1), "kb_per_course": round(held * 1024 / len(plans), 2),
            "burst_courses": moved, "prepared_ahead": before,
            "prepare_seconds": round(prepare, 2), "prepare_rounds": rounds,
            "burst_notifications": len(acked), "lateness_p50_s": round(lateness[len(lateness) // 2], 3),
            "lateness_p99_s": round(lateness[int(len(lateness) * 0.99)], 3),
            "peak_rss_mb": round(peak_rss_mb(os.getpid()), 1)}




async def run(bootstrap: str, courses: int) -> dict[str, object]:
    settings = await fresh_topics(bootstrap)
    written = await write_changelog(settings, courses)
    out = subprocess.run([sys.executable, __file__, "--worker", settings.bootstrap_servers,
                          settings.topic_prefix], cwd=REPO, capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["changelog_write_seconds"] = round(written, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--courses", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--worker", nargs=2, metavar=("BOOTSTRAP", "PREFIX"))
    args = parser.parse_args()
    if args.worker:
        settings = KafkaSettings(bootstrap_servers=args.worker[0], topic_prefix=args.worker[1])
        print(json.dumps(asyncio.run(worker(settings))))
        return
    with broker() as bootstrap:
        results = [asyncio.run(run(bootstrap, n)) for n in args.courses]
    write_result("scheduler_scale", {"at": datetime.now(UTC).isoformat(), "runs": results})


if __name__ == "__main__":
    main()
