from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.logging import configure_logging
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.kafka_fixture import kafka_bootstrap_servers

configure_logging(json=False)


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
    await create_topics(settings.aiokafka_kwargs(), Topics(settings.topic_prefix))
    yield settings


@pytest.fixture
def topics(kafka: KafkaSettings) -> Topics:
    return Topics(kafka.topic_prefix)
