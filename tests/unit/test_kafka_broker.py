"""The local broker's cluster ids are valid arguments for Kafka's storage tool; its JVM flags."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from devtools import kafka_broker


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    # 0xfb... encodes to "-", which the storage tool's argument parser takes for an option.
    dash = mock.Mock(bytes=b"\xfb" + bytes(15))
    plain = mock.Mock(bytes=bytes(16))
    with mock.patch.object(kafka_broker.uuid, "uuid4", side_effect=[dash, plain]):
        cluster_id = kafka_broker._cluster_id()
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAA"
    assert all(not kafka_broker._cluster_id().startswith("-") for _ in range(2000))


def test_the_development_broker_runs_on_the_quick_compiler_and_the_serial_collector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setattr(kafka_broker.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.delenv("LEDERKONTAKT_KAFKA_JVM_OPTS", raising=False)
    home = kafka_broker.BrokerHome(root=tmp_path, host="127.0.0.1", port=1)
    cmd = kafka_broker._java_cmd(home, "kafka.Kafka")
    assert "-XX:TieredStopAtLevel=1" in cmd and "-XX:+UseSerialGC" in cmd
    monkeypatch.setenv("LEDERKONTAKT_KAFKA_JVM_OPTS", "-XX:+UseG1GC")
    cmd = kafka_broker._java_cmd(home, "kafka.Kafka")
    assert "-XX:+UseG1GC" in cmd and "-XX:TieredStopAtLevel=1" not in cmd
