"""Operations' view: /healthz and /metrics of a running service, and `lederkontakt tail`."""

from __future__ import annotations

import io

import httpx
import pytest
from faststream.asgi import AsgiFastStream

from services.ops.tail import tail, topics_for
from services.referral.app import ReferralService
from shared.kafka import EventProducer
from shared.ops import OpsServer, ops_routes
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events, read_records, wait_for
from tests.samples import referral

pytestmark = pytest.mark.integration


async def test_healthz_and_metrics_report_what_the_service_did(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer
) -> None:
    service = ReferralService(kafka)
    await service.start()
    ops = OpsServer("referral", AsgiFastStream(asgi_routes=ops_routes(
        "referral", service.health, broker=service.broker)), port=0)
    await ops.start()
    try:
        await producer.publish(topics.referrals, referral("r-ops"))
        await producer.send(topics.referrals, b"not json", "k")
        await read_events(kafka, topics.courses, expect=1)
        # The bad record may be in another partition, read after the good one.
        await read_records(kafka, topics.dlq("referrals"), expect=1)
        # The dedup record is written after the course is published; the consents table may be
        # rebuilt after the intake's (two groups).
        await wait_for(lambda: len(service.intake) == 1 and service.health()["ok"] is True)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.port}") as client:
            health = (await client.get("/healthz")).json()
            metrics = (await client.get("/metrics")).text
            ping = (await client.get("/ping")).status_code
            missing = (await client.get("/nothing-here")).status_code
    finally:
        await ops.stop()
        await service.stop()
    assert health["ok"] is True and health["referrals_known"] == 1
    assert ping == 204 and missing == 404
    assert f'lederkontakt_events_produced_total{{topic="{topics.courses}",type="course.started"}}' in metrics
    assert f'lederkontakt_dead_lettered_total{{topic="{topics.dlq("referrals")}"}}' in metrics
    assert "lederkontakt_consumer_lag" in metrics


async def test_tail_prints_one_line_an_event_without_contact_details(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer
) -> None:
    service = ReferralService(kafka)
    await service.start()
    await producer.publish(topics.referrals, referral("r-tail"))
    await read_events(kafka, topics.courses, expect=1)
    await service.stop()
    out = io.StringIO()
    shown = await tail(kafka, topics_for(["referrals", "courses", "people"], None), course=None,
                       types=[], from_beginning=True, out=out, idle_exit=2.0)
    text = out.getvalue()
    assert shown == 5  # the referral, the course and three people
    assert "course.started" in text and "referral_id=r-tail" in text
    assert "@" not in text and "+45" not in text and "Emma" not in text
    only_course = io.StringIO()
    await tail(kafka, ["courses", "referrals"], course=None, types=["course."],
               from_beginning=True, out=only_course, idle_exit=2.0)
    assert only_course.getvalue().count("\n") == 1
