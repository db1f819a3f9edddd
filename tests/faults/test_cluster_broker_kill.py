"""On a three-node cluster, while courses flow: kill -9 the broker that leads most partitions,
run on the other two, restart it. No notification is lost or sent twice, no service needs a
hand restart, and the services' consumer lag comes back to zero."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import kafka_broker, kafka_cluster
from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink
from shared.clock import ScaledClock
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.faults.cluster_harness import (
    CHAIN_SECONDS,
    SPEED,
    START,
    Fleet,
    Flow,
    await_deliveries,
    seconds_until_no_lag,
    service_env,
    wait_until_joined,
)
from tests.kafka_fixture import local_cluster

pytestmark = pytest.mark.integration
# Courses referred before the kill, and on two brokers after it (for at least ON_TWO_S).
BEFORE_KILL = 8
ON_TWO = 8
ON_TWO_S = 6.0


async def referred(flow: Flow, courses: int, timeout: float = 60) -> None:
    for _ in range(int(timeout * 10)):
        if len(flow.acknowledged) >= courses:
            return
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[kafka_broker.BrokerHome, ...]]:
    with local_cluster(3) as homes:
        yield homes


async def test_killing_the_broker_leading_most_partitions_loses_and_repeats_nothing(
    cluster: tuple[kafka_broker.BrokerHome, ...], smtp: tuple[MailSink, int],
    sms: SmsGatewayDouble, tls: tuple[object, str], tmp_path: Path,
) -> None:
    sink, port = smtp
    kafka = KafkaSettings(bootstrap_servers=kafka_cluster.bootstrap(cluster),
                          topic_prefix=f"c{uuid.uuid4().hex[:8]}-", client_id="cluster-test")
    await create_topics(kafka.aiokafka_kwargs(), Topics(kafka.topic_prefix))
    origin = time.time()
    fleet = Fleet(service_env(kafka, port, tls[1], sms.url, sms.token, origin), log_dir=tmp_path)
    flow = Flow(kafka, ScaledClock(START, SPEED, origin), run="kill", interval=0.2)
    fleet.start()
    flowing: asyncio.Task[None] | None = None
    try:
        joined = await wait_until_joined(kafka, timeout=90)
        flowing = asyncio.create_task(flow())
        await referred(flow, BEFORE_KILL)
        leaders = await kafka_cluster.leader_counts(kafka.bootstrap_servers)
        victim = kafka_cluster.home_of(cluster, leaders.most_common(1)[0][0])
        kafka_cluster.signal_node(victim, signal.SIGKILL)
        await asyncio.sleep(ON_TWO_S)  # the other two carry on: new leaders, a new coordinator
        await referred(flow, BEFORE_KILL + ON_TWO)
        restarting = asyncio.create_task(asyncio.to_thread(kafka_broker.start, victim, 120.0))
        flow.stop()
        await flowing
        # Every course's last notification is due a scaled week after its referral; the
        # victim restarts meanwhile. Counted once the services caught up and the victim is back.
        wanted, counts = await await_deliveries(flow.acknowledged, sink, sms, CHAIN_SECONDS + 45)
        await restarting
        recovery = await seconds_until_no_lag(kafka, time.monotonic(), timeout=60)
        wanted, counts = await await_deliveries(flow.acknowledged, sink, sms, 0)
        died = fleet.died_on_their_own()
    finally:
        flow.stop()
        if flowing is not None:
            await flowing
        fleet.stop()
    lost = wanted - set(counts)
    duplicates = {n: c - 1 for n, c in counts.items() if c > 1}
    print(f"\nservices joined in {joined:.1f} s; node {victim.node_id} (leader of "
          f"{leaders[victim.node_id]} of {sum(leaders.values())} partitions) killed: "
          f"{len(flow.acknowledged)} courses, {len(wanted)} required, {len(lost)} lost, "
          f"{sum(duplicates.values())} duplicates, lag 0 {recovery} s after the restart, "
          f"referral retries {flow.retries}; service logs in {tmp_path}")
    assert len(flow.acknowledged) >= BEFORE_KILL + ON_TWO
    assert not lost, sorted(lost)[:5]
    # No service instance was killed, so the send/ledger gap allows no repeat here.
    assert not duplicates, sorted(duplicates)[:5]
    assert not died
    assert recovery is not None
