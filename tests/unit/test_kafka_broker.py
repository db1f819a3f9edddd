"""The local broker's cluster ids are valid arguments for Kafka's storage tool."""

from __future__ import annotations

from unittest import mock

from devtools import kafka_broker


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    # 0xfb... encodes to "-", which the storage tool's argument parser takes for an option.
    dash = mock.Mock(bytes=b"\xfb" + bytes(15))
    plain = mock.Mock(bytes=bytes(16))
    with mock.patch.object(kafka_broker.uuid, "uuid4", side_effect=[dash, plain]):
        cluster_id = kafka_broker._cluster_id()
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAA"
    assert all(not kafka_broker._cluster_id().startswith("-") for _ in range(2000))
