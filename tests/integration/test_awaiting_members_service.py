"""On the real broker: a request whose course's record comes long after the short wait (the
referral service behind or down) is parked, not held in a slot, and goes out once the record
names its recipient, and not before."""

from __future__ import annotations

import asyncio

import pytest

from devtools.smtp_sink import MailSink
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from shared.clock import ScaledClock
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import course_record, read_events, wait_for
from tests.integration.test_notifier_service import NOON, course, leader_request, seed

pytestmark = pytest.mark.integration


async def test_a_receipt_whose_course_is_recorded_late_waits_parked_and_goes_out_once_recorded(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings,
) -> None:
    sink = smtp[0]
    await seed(producer, topics)  # people, and the records of courses c-1 and c-2
    # One slot: a request held in it would hold up every request behind it.
    settings = notifier_settings.model_copy(update={
        "concurrency": 1, "membership_wait_seconds": 1.0, "membership_retry_seconds": 0.2})
    service = NotifierService(kafka, settings, ScaledClock(NOON))
    await service.start()
    try:
        receipt = leader_request("c-9:receipt", course_id="c-9").model_copy(
            update={"kind": "referral_receipt", "requires_consent": "none"})
        await producer.publish(topics.notifications_requested, receipt)
        [parked] = await read_events(kafka, topics.notifications_status, expect=1)
        assert (parked.type, parked.reason) == (  # type: ignore[attr-defined]
            "notification.deferred", "awaiting_members")
        # The one slot is free: a request for a recorded course goes out meanwhile.
        await producer.publish(topics.notifications_requested, leader_request())
        await wait_for(lambda: len(sink.mails) == 1, timeout=10)
        await asyncio.sleep(1.0)  # a few more looks at the receipt, its course still unknown
        assert "Vi har modtaget din tilmelding" not in [m.subject for m in sink.mails]
        # The referral service catches up: c-9's record names lead-1 its leader.
        await producer.publish(topics.consents, course_record(course("c-9", "lead-1")))
        await wait_for(lambda: len(sink.mails) == 2, timeout=15)
        outcomes = await read_events(kafka, topics.notifications_status, expect=3, settle=0.5)
    finally:
        await service.stop()
    assert sink.mails[1].subject == "Vi har modtaget din tilmelding"
    assert sink.mails[1].recipients == ["lars@example.org"]
    # In order per notification (the two are on different partitions).
    by_id: dict[str, list[str]] = {}
    for e in outcomes:
        by_id.setdefault(e.notification_id, []).append(  # type: ignore[attr-defined]
            e.type.removeprefix("notification."))
    assert by_id == {"c-9:receipt": ["deferred", "sent"], "c-1:start_call:due:leader": ["sent"]}
