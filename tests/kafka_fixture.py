"""Where the tests' Kafka comes from: an env var, a Docker engine, or the project's own broker."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools import kafka_broker

TEST_BROKER_PORT = int(os.environ.get("LEDERKONTAKT_TEST_KAFKA_PORT", "19092"))


def docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def kafka_bootstrap_servers() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    repo = Path(__file__).resolve().parent.parent
    home = kafka_broker.BrokerHome(
        root=Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", repo / ".cache" / "kafka")),
        host="127.0.0.1",
        port=TEST_BROKER_PORT,
    )
    already_running = kafka_broker.running_pid(home) is not None
    # A fresh log dir per session: topics of earlier runs would only slow the broker down.
    if not already_running:
        kafka_broker.reset(home)
    yield kafka_broker.start(home)
    if not already_running:
        kafka_broker.stop(home)
