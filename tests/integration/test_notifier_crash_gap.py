"""The one documented gap: a crash after the provider accepted a message and before the ledger
write sends it again on restart, under the same Message-ID. A crash after the ledger write
sends nothing again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.smtp_sink import MailSink
from services.notifier.config import NotifierSettings
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events, wait_for
from tests.integration.test_notifier_service import leader_request, seed

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _spawn(kafka: KafkaSettings, settings: NotifierSettings, crash_at: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "LEDERKONTAKT_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "LEDERKONTAKT_TOPIC_PREFIX": kafka.topic_prefix,
           "LEDERKONTAKT_CLOCK_START": "2026-11-26T11:00:00+00:00",
           "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(settings.smtp_port),
           "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": str(settings.smtp_cafile),
           "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": settings.sms_base_url,
           "LEDERKONTAKT_NOTIFIER_SMS_TOKEN": settings.sms_token.get_secret_value()}
    if crash_at:
        env["LEDERKONTAKT_CRASH_AT"] = crash_at
    return subprocess.Popen([sys.executable, "-m", "services.notifier.app"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize(("crash_at", "mails_after_restart"), [("after_send", 2),
                                                               ("after_ledger", 1)])
async def test_a_crash_around_the_ledger_write(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    notifier_settings: NotifierSettings, crash_at: str, mails_after_restart: int,
) -> None:
    sink = smtp[0]
    await seed(producer, topics)
    await producer.publish(topics.notifications_requested, leader_request())
    crashing = _spawn(kafka, notifier_settings, crash_at)
    assert crashing.wait(60) == 137
    assert len(sink.mails) == 1
    survivor = _spawn(kafka, notifier_settings, None)
    try:
        statuses = await read_events(kafka, topics.notifications_status, expect=1, timeout=40)
        await wait_for(lambda: len(sink.mails) >= mails_after_restart, timeout=10)
    finally:
        survivor.terminate()
        assert survivor.wait(30) == 0
    assert [s.type for s in statuses] == ["notification.sent"]  # type: ignore[attr-defined]
    assert len(sink.mails) == mails_after_restart
    assert len({m.message_id for m in sink.mails}) == 1
