"""Helpers the benchmark programs share: a broker, topics, counting records, peak memory."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.kafka_fixture import kafka_bootstrap_servers


@contextlib.contextmanager
def broker() -> Iterator[str]:
    with kafka_bootstrap_servers() as bootstrap:
        yield bootstrap


async def fresh_topics(bootstrap: str) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"b{uuid.uuid4().hex[:8]}-")
    await create_topics(settings.aiokafka_kwargs(), Topics(settings.topic_prefix))
    return settings


async def count_records(settings: KafkaSettings, topic: str) -> int:
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs(), group_id=None)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        end = await consumer.end_offsets(tps)
        return sum(end.values())
    finally:
        await consumer.stop()


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int | None = None) -> float:
    return _status_mb(pid or os.getpid(), "VmRSS")


def service_env(settings: KafkaSettings) -> dict[str, str]:
    return {**os.environ, "LEDERKONTAKT_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "LEDERKONTAKT_TOPIC_PREFIX": settings.topic_prefix, "PYTHONPATH": str(REPO)}


def write_result(name: str, result: dict[str, object]) -> None:
    out = REPO / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
