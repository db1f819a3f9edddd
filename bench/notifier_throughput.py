"""Notifier pipeline (consume -> consent check -> render -> SMTP -> ledger -> status) against
raw aiosmtplib with as many connections to the same local SMTP server (STARTTLS, a process of
its own), in one run. --profile prints where the notifier's time goes (cProfile).

    .venv/bin/python bench/notifier_throughput.py [--count 2000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import time
from datetime import datetime, timedelta

from common import (
    SMTP_CONNECTIONS,
    SmtpServerProcess,
    broker,
    fresh_topics,
    peak_rss_mb,
    smtp_ceiling,
    write_result,
)

from devtools.sms_gateway import SmsGatewayDouble
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseMembers,
    NotificationFacts,
    NotificationRequested,
    Person,
    PersonUpserted,
)
from shared.kafka import EventProducer
from shared.topics import Topics

NOON = datetime(2026, 11, 26, 12, tzinfo=COPENHAGEN)



async def pipeline(bootstrap: str, port: int, cafile: str, count: int) -> tuple[float, float]:
    settings = await fresh_topics(bootstrap)
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    outputs: list[tuple[str, object]] = [(topics.people, PersonUpserted(
        occurred_at=NOON, person=Person(person_id="psy", name="Pia Psykolog", email="p@t.dk")))]
    for i in range(count):
        cid = f"c-{i}"
        outputs.append((topics.people, PersonUpserted(occurred_at=NOON, person=Person(
            person_id=f"lead{i}", name=f"Leder {i}", email=f"lead{i}@example.org"))))
        # The gate sends only to whom the course's record names in the role.
        outputs.append((topics.consents, ConsentRecorded(
            occurred_at=NOON, course_id=cid, state=ConsentState(
                leader_contact=ConsentStatement(agreed=True, as_of=NOON)),
            members=CourseMembers(started=True, employee_id=f"emp{i}", leader_id=f"lead{i}",
                                  psychologist_id="psy"))))
        outputs.append((topics.notifications_requested, NotificationRequested(
            occurred_at=NOON, course_id=cid, notification_id=f"{cid}:due:leader",
            kind="leader_call_coming", recipient_id=f"lead{i}", recipient_role="leader",
            psychologist_id="psy", requires_consent="leader_contact",
            facts=NotificationFacts(due_date=NOON.date() + timedelta(days=2)))))
    for start in range(0, len(outputs), 5000):
        await producer.publish_all(outputs[start:start + 5000])  # type: ignore[arg-type]
    await producer.stop()
    sms = SmsGatewayDouble().start()
    notifier = NotifierSettings(smtp_port=port, smtp_cafile=cafile, sms_base_url=sms.url,
                                smtp_connections=SMTP_CONNECTIONS)
    service = NotifierService(settings, notifier, ManualClock(NOON))
    return service, sms  # type: ignore[return-value]


async def run(bootstrap: str, count: int, profile: bool) -> dict[str, object]:
    server = SmtpServerProcess()
    raw = await smtp_ceiling(server.port, server.cafile, count, SMTP_CONNECTIONS)
    service, sms = await pipeline(bootstrap, server.port, server.cafile, count)  # type: ignore[misc]
    profiler = None
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
    before = server.count  # the raw run's mails
    t0 = time.perf_counter()
    await service.start()
    while server.count - before < count and time.perf_counter() - t0 < 600:
        await asyncio.sleep(0.05)
    pipeline_s = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(60)
    await service.stop()
    sms.stop()
    arrivals = sorted(at for to, at in server.received() if to.startswith("lead"))
    delivered = len(arrivals)
    # Once it runs: from the first mail to the last, without start, group join and view rebuild.
    steady = (delivered - 1) / (arrivals[-1] - arrivals[0]) if delivered > 1 else 0.0
    return {"messages": count, "delivered": delivered, "smtp_connections": SMTP_CONNECTIONS,
            "pipeline_msgs_per_s": round(delivered / pipeline_s, 1),
            "steady_msgs_per_s": round(steady, 1),
            "raw_aiosmtplib_msgs_per_s": round(raw, 1),
            "ratio": round((delivered / pipeline_s) / raw, 3),
            "steady_ratio": round(steady / raw, 3),
            "peak_rss_mb": round(peak_rss_mb(os.getpid()), 1),
            "note": "pipeline_msgs_per_s and ratio include service start, group join and view "
                    "rebuild; steady_* count from the first mail to the last"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with broker() as bootstrap:
        result = asyncio.run(run(bootstrap, args.count, args.profile))
    if not args.profile:
        write_result("notifier_throughput", result)


if __name__ == "__main__":
    main()
