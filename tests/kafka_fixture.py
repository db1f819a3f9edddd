"""Where the tests' Kafka comes from: an env var, a Docker engine, or the project's own broker."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools import kafka_broker, kafka_cluster

TEST_BROKER_PORT = int(os.environ.get("LEDERKONTAKT_TEST_KAFKA_PORT", "19092"))
# The tests' three-node cluster (nine ports from here), apart from the single test broker's.
TEST_CLUSTER_PORT = int(os.environ.get("LEDERKONTAKT_TEST_CLUSTER_PORT", str(TEST_BROKER_PORT + 50)))


def docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kafka_home() -> Path:
    repo = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", repo / ".cache" / "kafka"))


@contextmanager
def local_cluster(nodes: int = 3, port: int = TEST_CLUSTER_PORT,
                  advertised_ports: list[int] | None = None) -> Iterator[tuple[kafka_broker.BrokerHome, ...]]:
    """A fresh local cluster of `nodes` KRaft nodes, for tests that stop, freeze and restart
    brokers (so never a shared or external one); removed afterwards."""
    homes = kafka_cluster.node_homes(
        kafka_broker.BrokerHome(root=kafka_home(), host="127.0.0.1", port=port), nodes,
        advertised_ports)
    kafka_cluster.reset(homes)
    kafka_cluster.start(homes)
    try:
        yield homes
    finally:
        kafka_cluster.reset(homes)


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
    home = kafka_broker.BrokerHome(root=kafka_home(), host="127.0.0.1", port=TEST_BROKER_PORT)
    already_running = kafka_broker.running_pid(home) is not None
    # A fresh log dir per session: topics of earlier runs would only slow the broker down.
    if not already_running:
        kafka_broker.reset(home)
    yield kafka_broker.start(home)
    if not already_running:
        kafka_broker.stop(home)
