from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink, local_tls, start_sink
from services.notifier.config import NotifierSettings
from shared.kafka import EventProducer
from shared.logging import configure_logging
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.kafka_fixture import kafka_bootstrap_servers

configure_logging(json=False)
# The referral service refuses to start without a person-id key and a staff directory unless
# told it runs for development; the services the tests start as processes inherit this.
os.environ.setdefault("LEDERKONTAKT_DEVELOPMENT", "1")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """One broker for the whole test session."""
    with kafka_bootstrap_servers() as bootstrap:
        yield bootstrap


@pytest.fixture
async def kafka(kafka_bootstrap: str) -> AsyncIterator[KafkaSettings]:
    """Settings with a topic prefix of this test's own, and its topics created."""
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}-",
        client_id="lederkontakt-test",
    )
    await create_topics(settings.aiokafka_kwargs(), Topics(settings.topic_prefix),
                        settings.replication_factor)
    yield settings


@pytest.fixture
def topics(kafka: KafkaSettings) -> Topics:
    return Topics(kafka.topic_prefix)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    return local_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(tls: tuple[ssl.SSLContext, str]) -> Iterator[tuple[MailSink, int]]:
    controller, sink = start_sink(tls[0])
    yield sink, controller.port
    controller.stop()


@pytest.fixture
def sms() -> Iterator[SmsGatewayDouble]:
    double = SmsGatewayDouble().start()
    yield double
    double.stop()


@pytest.fixture
def notifier_settings(smtp: tuple[MailSink, int], sms: SmsGatewayDouble,
                      tls: tuple[ssl.SSLContext, str]) -> NotifierSettings:
    return NotifierSettings(smtp_port=smtp[1], smtp_cafile=tls[1], sms_base_url=sms.url,
                            sms_token=sms.token, retry_base_seconds=0.05, tick_seconds=0.05,
                            membership_wait_seconds=10)


@pytest.fixture
async def producer(kafka: KafkaSettings) -> AsyncIterator[EventProducer]:
    p = EventProducer(kafka.aiokafka_kwargs())
    await p.start()
    yield p
    await p.stop()


