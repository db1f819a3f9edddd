"""A local cluster's nodes share one quorum, replicate among themselves, and can be advertised
behind proxies; topics get as many copies as the cluster can hold, never more."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import kafka_broker, kafka_cluster
from shared.topics import ReplicationError, replication_configs, replication_for


def config(home: kafka_broker.BrokerHome) -> dict[str, str]:
    kafka_broker.write_config(home)
    lines = home.config_file.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_three_nodes_have_distinct_ports_and_data_and_one_quorum(tmp_path: Path) -> None:
    first = kafka_broker.BrokerHome(root=tmp_path, host="127.0.0.1", port=20000)
    homes = kafka_cluster.node_homes(first, 3)
    ports = [p for h in homes for p in (h.port, h.controller_port, h.internal_port)]
    assert len(set(ports)) == 9
    assert len({h.data for h in homes}) == 3
    configs = [config(h) for h in homes]
    assert {c["controller.quorum.voters"] for c in configs} == {
        "1@127.0.0.1:20001,2@127.0.0.1:20004,3@127.0.0.1:20007"}
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert all(c["inter.broker.listener.name"] == "INTERNAL" for c in configs)
    assert all(c["offsets.topic.replication.factor"] == "3" for c in configs)
    assert all(c["min.insync.replicas"] == "2" for c in configs)
    assert all(c["unclean.leader.election.enable"] == "false" for c in configs)
    assert kafka_cluster.bootstrap(homes) == "127.0.0.1:20000,127.0.0.1:20003,127.0.0.1:20006"


def test_a_node_behind_a_proxy_advertises_the_proxy_but_replicates_directly(
        tmp_path: Path) -> None:
    first = kafka_broker.BrokerHome(root=tmp_path, host="127.0.0.1", port=20000)
    homes = kafka_cluster.node_homes(first, 3, advertised_ports=[20090, 20091, 20092])
    assert config(homes[1])["advertised.listeners"] == (
        "PLAINTEXT://127.0.0.1:20091,INTERNAL://127.0.0.1:20005")
    assert kafka_cluster.bootstrap(homes) == "127.0.0.1:20090,127.0.0.1:20091,127.0.0.1:20092"


def test_a_single_node_keeps_its_one_copy_settings(tmp_path: Path) -> None:
    first = kafka_broker.BrokerHome(root=tmp_path, host="127.0.0.1", port=20000)
    assert kafka_cluster.node_homes(first, 1) == (first,)
    single = config(first)
    assert single["controller.quorum.voters"] == "1@127.0.0.1:20001"
    assert single["offsets.topic.replication.factor"] == "1"
    assert single["inter.broker.listener.name"] == "PLAINTEXT"


def test_the_active_controller_is_the_leader_of_the_highest_epoch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = kafka_broker.BrokerHome(root=tmp_path, host="127.0.0.1", port=20000)
    homes = kafka_cluster.node_homes(first, 3)
    for home, (leader, epoch) in zip(homes, [(1, 4), (2, 5), (2, 5)], strict=True):
        (home.data / "__cluster_metadata-0").mkdir(parents=True)
        (home.data / "__cluster_metadata-0" / "quorum-state").write_text(
            f'{{"leaderId":{leader},"leaderEpoch":{epoch},"votedId":-1}}')
    running = {h.pid_file for h in homes}
    monkeypatch.setattr(kafka_broker, "running_pid",
                        lambda h: 1 if h.pid_file in running else None)
    assert kafka_cluster.active_controller(homes) == 2
    running.difference_update({homes[1].pid_file, homes[2].pid_file})
    assert kafka_cluster.active_controller(homes) == 1


def test_topics_get_three_copies_from_three_brokers_on_and_one_below() -> None:
    assert replication_for(brokers=1) == 1
    assert replication_for(brokers=2) == 1
    assert replication_for(brokers=3) == 3
    assert replication_for(brokers=5) == 3
    assert replication_for(brokers=3, requested=2) == 2


def test_a_replication_factor_larger_than_the_cluster_is_refused_with_the_reason() -> None:
    with pytest.raises(ReplicationError, match="needs at least 3 brokers; the cluster has 1"):
        replication_for(brokers=1, requested=3)


def test_three_copies_need_two_in_sync_and_no_unclean_leader() -> None:
    assert replication_configs(3) == {"min.insync.replicas": "2",
                                      "unclean.leader.election.enable": "false"}
    assert replication_configs(1)["min.insync.replicas"] == "1"


def test_the_services_broker_bootstraps_from_every_address_of_a_cluster() -> None:
    from shared.kafka import make_broker
    from shared.settings import KafkaSettings

    broker = make_broker(KafkaSettings(bootstrap_servers="127.0.0.1:1, 127.0.0.1:2,127.0.0.1:3"))
    assert broker._connection_kwargs["bootstrap_servers"] == [
        "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
