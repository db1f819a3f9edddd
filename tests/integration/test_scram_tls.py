"""SASL/SCRAM over TLS against the local broker started with a SCRAM listener."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives import serialization

from devtools import kafka_broker
from services.referral.app import ReferralService
from services.referral.domain.intake import course_id_for
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.integration.helpers import read_events
from tests.kafka_fixture import TEST_BROKER_PORT
from tests.samples import referral

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "lederkontakt", "scram-secret-7"


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("scram")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_pem = folder / "server.pem"
    # Kafka's PEM key store wants the key as PKCS#8.
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    server_pem.write_bytes(pkcs8 + b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cafile = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    port = TEST_BROKER_PORT + 10
    h = "127.0.0.1"
    home = kafka_broker.BrokerHome(
        root=Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", REPO / ".cache" / "kafka")),
        host=h, port=port,
        extra_config=(
            f"listeners=PLAINTEXT://{h}:{port},CONTROLLER://{h}:{port + 1},SASL_SSL://{h}:{port + 2}",
            f"advertised.listeners=PLAINTEXT://{h}:{port},SASL_SSL://{h}:{port + 2}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={server_pem}",
            "ssl.enabled.protocols=TLSv1.2,TLSv1.3",
        ),
        format_args=("--add-scram", f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"),
    )
    kafka_broker.reset(home)
    kafka_broker.start(home)
    try:
        yield f"{h}:{port + 2}", str(cafile)
    finally:
        kafka_broker.stop(home)
        kafka_broker.reset(home)


def _settings(bootstrap: str, cafile: str, password: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, security_protocol="SASL_SSL",
                         sasl_mechanism="SCRAM-SHA-512", sasl_username=USER,
                         sasl_password=password, ssl_cafile=cafile,
                         topic_prefix="scram-")


async def test_services_talk_to_a_scram_tls_listener(scram_broker: tuple[str, str]) -> None:
    settings = _settings(*scram_broker, PASSWORD)
    topics = Topics(settings.topic_prefix)
    await create_topics(settings.aiokafka_kwargs(), topics)
    service = ReferralService(settings)
    await service.start()
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    try:
        await producer.publish(topics.referrals, referral("r-scram"))
        [course] = await read_events(settings, topics.courses, expect=1)
    finally:
        await producer.stop()
        await service.stop()
    assert course.course_id == course_id_for("r-scram")


async def test_a_wrong_password_is_refused(scram_broker: tuple[str, str]) -> None:
    producer = EventProducer(_settings(*scram_broker, "wrong").aiokafka_kwargs())
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), 30)
