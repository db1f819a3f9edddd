"""Notifier pipeline (consume -> consent check -> render -> SMTP -> ledger -> status) against a
raw aiosmtplib loop to the same local SMTP server (STARTTLS), in one run.

    .venv/bin/python bench/notifier_throughput.py [--count 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import time
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from common import broker, fresh_topics, peak_rss_mb, write_result

from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import local_tls, start_sink
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    NotificationFacts,
    NotificationRequested,
    Person,
    PersonUpserted,
)
from shared.kafka import EventProducer
from shared.topics import Topics

NOON = datetime(2026, 11, 26, 12, tzinfo=COPENHAGEN)



async def raw_loop(port: int, cafile: str, count: int) -> float:
    context = ssl.create_default_context(cafile=cafile)
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True, tls_context=context)
    await smtp.connect()
    t0 = time.perf_counter()
    for i in range(count):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@tidlig.dk", f"lead{i}@example.org", "x"
        msg.set_content("Pia Psykolog ringer til dig senest 30.11.2026.")
        await smtp.send_message(msg)
    elapsed = time.perf_counter() - t0
    await smtp.quit()
    return elapsed


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
        outputs.append((topics.consents, ConsentRecorded(
            occurred_at=NOON, course_id=cid, state=ConsentState(
                leader_contact=ConsentStatement(agreed=True, as_of=NOON)))))
        outputs.append((topics.notifications_requested, NotificationRequested(
            occurred_at=NOON, course_id=cid, notification_id=f"{cid}:due:leader",
            kind="leader_call_coming", recipient_id=f"lead{i}", recipient_role="leader",
            psychologist_id="psy", requires_consent="leader_contact",
            facts=NotificationFacts(due_date=NOON.date() + timedelta(days=2)))))
    for start in range(0, len(outputs), 5000):
        await producer.publish_all(outputs[start:start + 5000])  # type: ignore[arg-type]
    await producer.stop()
    sms = SmsGatewayDouble().start()
    notifier = NotifierSettings(smtp_port=port, smtp_cafile=cafile, sms_base_url=sms.url)
    service = NotifierService(settings, notifier, ManualClock(NOON))
    return service, sms  # type: ignore[return-value]


async def run(bootstrap: str, count: int) -> dict[str, object]:
    server_ctx, cafile = local_tls()
    controller, sink = start_sink(server_ctx)
    raw_s = await raw_loop(controller.port, cafile, count)
    sink.mails.clear()
    service, sms = await pipeline(bootstrap, controller.port, cafile, count)  # type: ignore[misc]
    t0 = time.perf_counter()
    await service.start()
    while len(sink.mails) < count and time.perf_counter() - t0 < 600:
        await asyncio.sleep(0.1)
    pipeline_s = time.perf_counter() - t0
    delivered = len(sink.mails)
    await service.stop()
    sms.stop()
    controller.stop()
    return {"messages": count, "delivered": delivered,
            "pipeline_msgs_per_s": round(delivered / pipeline_s, 1),
            "raw_aiosmtplib_msgs_per_s": round(count / raw_s, 1),
            "ratio": round((delivered / pipeline_s) / (count / raw_s), 3),
            "peak_rss_mb": round(peak_rss_mb(os.getpid()), 1),
            "note": "pipeline time includes service start, group join and view rebuild"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with broker() as bootstrap:
        write_result("notifier_throughput", asyncio.run(run(bootstrap, args.count)))


if __name__ == "__main__":
    main()
