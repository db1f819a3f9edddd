"""A local Kafka cluster: several combined broker+controller nodes on one host, one quorum.

Node n (counting from 0) listens on port + 3n for clients, port + 3n + 1 for the controller
quorum and port + 3n + 2 for replication; its data, log and pid file carry its client port.
A cluster of one is the plain single-node broker of devtools/kafka_broker.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devtools import kafka_broker
from devtools.kafka_broker import BrokerError, BrokerHome

PORT_STRIDE = 3
# Three JVMs share this 2-core machine with the services and other work: half a gigabyte each
# holds a development cluster's metadata and page cache needs comfortably.
NODE_HEAP = "512m"


def node_homes(first: BrokerHome, nodes: int,
               advertised_ports: Sequence[int] | None = None) -> tuple[BrokerHome, ...]:
    """The nodes of a cluster whose first node is `first` (a cluster of one is `first` itself).
    `advertised_ports` tells clients to connect somewhere else, e.g. to a proxy per node."""
    if nodes < 1:
        raise BrokerError("a cluster has at least one node")
    if nodes == 1 and not advertised_ports:
        return (first,)
    ports = [first.port + PORT_STRIDE * n for n in range(nodes)]
    quorum = tuple((n + 1, port + 1) for n, port in enumerate(ports)) if nodes > 1 else ()
    return tuple(
        BrokerHome(root=first.root, host=first.host, port=port, extra_config=first.extra_config,
                   format_args=first.format_args, node_id=n + 1, quorum=quorum,
                   advertised_port=advertised_ports[n] if advertised_ports else None,
                   heap=NODE_HEAP if nodes > 1 else first.heap)
        for n, port in enumerate(ports))


def bootstrap(homes: Sequence[BrokerHome]) -> str:
    """The addresses clients start from: each node's advertised address."""
    return ",".join(f"{h.host}:{h.advertised_port or h.port}" for h in homes)


def _size_file(first: BrokerHome) -> Path:
    return first.root / f"nodes-{first.port}"


def recorded_size(first: BrokerHome) -> int:
    """How many nodes the setup on this port was started with (1 if none was)."""
    try:
        return int(_size_file(first).read_text().strip())
    except (FileNotFoundError, ValueError):
        return 1


def _existing_cluster_id(homes: Sequence[BrokerHome]) -> str | None:
    for home in homes:
        meta = home.data / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.removeprefix("cluster.id=").strip()
    return None


def start(homes: Sequence[BrokerHome], timeout: float = kafka_broker.READY_TIMEOUT_S) -> str:
    """Start every node that is not running, then wait until all of them are registered."""
    first = homes[0]
    if len(homes) != recorded_size(first) and any(h.data.exists() for h in homes):
        raise BrokerError(f"data of a {recorded_size(first)}-node setup is in {first.root}; "
                          f"run `scripts/kafka reset --nodes {recorded_size(first)}` first")
    kafka_broker.resolve_jars(first)
    first.root.mkdir(parents=True, exist_ok=True)
    _size_file(first).write_text(str(len(homes)))
    cluster_id = _existing_cluster_id(homes) or kafka_broker._cluster_id()
    procs: dict[int, subprocess.Popen[bytes]] = {}
    for home in homes:
        if kafka_broker.running_pid(home) is None:
            kafka_broker.write_config(home)
            kafka_broker.format_storage(home, cluster_id)
            procs[home.node_id] = kafka_broker.launch(home)
    for home in homes:
        if home.node_id in procs:
            kafka_broker.wait_ready(home, procs[home.node_id], timeout)
    wait_registered(homes, timeout)
    return bootstrap(homes)


def wait_registered(homes: Sequence[BrokerHome], timeout: float = 60.0) -> None:
    """Until the cluster's metadata lists every node as a broker (RF 3 topics need all three)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(asyncio.run(broker_ids(bootstrap(homes)))) >= len(homes):
            return
        time.sleep(0.3)
    raise BrokerError(f"not all {len(homes)} nodes registered within {timeout:.0f}s")


def stop(homes: Sequence[BrokerHome], timeout: float = 30.0) -> list[bool]:
    """Stop every node at once: one by one, the last ones would wait for a quorum that is gone."""
    with ThreadPoolExecutor(max_workers=len(homes)) as pool:
        return list(pool.map(lambda h: kafka_broker.stop(h, timeout), homes))


def reset(homes: Sequence[BrokerHome]) -> None:
    stop(homes, timeout=10.0)
    for home in homes:
        kafka_broker.reset(home)
    _size_file(homes[0]).unlink(missing_ok=True)


def active_controller(homes: Sequence[BrokerHome]) -> int | None:
    """The node id of the active controller, as the running voters last recorded it (the highest
    epoch in their quorum-state files); None while no leader is known."""
    best: tuple[int, int] | None = None
    for home in homes:
        if kafka_broker.running_pid(home) is None:
            continue
        try:
            state = json.loads((home.data / "__cluster_metadata-0" / "quorum-state").read_text())
        except (FileNotFoundError, ValueError):
            continue
        leader, epoch = int(state.get("leaderId", -1)), int(state.get("leaderEpoch", -1))
        if leader >= 0 and (best is None or epoch > best[1]):
            best = (leader, epoch)
    return best[0] if best else None


def home_of(homes: Sequence[BrokerHome], node_id: int) -> BrokerHome:
    return next(h for h in homes if h.node_id == node_id)


async def broker_ids(bootstrap_servers: str) -> set[int]:
    """The node ids the cluster's metadata lists as brokers; empty if it does not answer."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return {int(b["node_id"]) for b in cluster.get("brokers", [])}
    except Exception:
        return set()
    finally:
        await admin.close()


async def leader_counts(bootstrap_servers: str, topics: Sequence[str] | None = None) -> Counter[int]:
    """How many partitions each broker leads (of `topics`, or of all topics)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    try:
        names = list(topics) if topics is not None else await admin.list_topics()
        counts: Counter[int] = Counter()
        for topic in await admin.describe_topics(names):
            for partition in topic["partitions"]:
                if partition["leader"] >= 0:
                    counts[int(partition["leader"])] += 1
        return counts
    finally:
        await admin.close()


def signal_node(home: BrokerHome, sig: signal.Signals) -> int:
    """Send a signal to a node's process (kill -9, SIGSTOP, SIGCONT); returns its pid."""
    pid = kafka_broker.running_pid(home)
    if pid is None:
        raise BrokerError(f"node {home.node_id} is not running")
    os.kill(pid, sig)
    return pid


def describe(homes: Sequence[BrokerHome]) -> list[str]:
    """One line per node, the active controller marked."""
    controller = active_controller(homes) if len(homes) > 1 else None
    lines = []
    for home in homes:
        pid = kafka_broker.running_pid(home)
        state = f"running (pid {pid})" if pid else "not running"
        mark = ", active controller" if controller == home.node_id else ""
        lines.append(f"node {home.node_id} {state} on {home.bootstrap}{mark}")
    return lines
