"""Broker and network faults on a three-node cluster, with the services as processes (two
instances of each), courses referred continuously and every expected notification counted at
the SMTP server (Message-ID) and the SMS double (userref).

    .venv/bin/python bench/cluster_faults.py [--faults broker-kill,...] [--port 19300]

Every client reaches the brokers through a Toxiproxy proxy per broker (the brokers advertise the
proxies; they replicate among themselves directly), and the notifier reaches SMTP and the SMS
gateway through proxies too. Each fault gets fresh topics and fresh services. Per fault: the
notifications lost, the duplicates, the services that died on their own (each would have needed
a hand restart), and the seconds from the end of the fault until the services' consumer lag is
zero. The table is printed and written to bench/results/.

The duplicates are set against what the documented send/ledger gap allows in that run, the sum
of three terms, each read from what happened (the services' logs are kept in
.cache/cluster_faults/<fault>/):
- `kills`: each notifier killed with -9 may repeat the sends it had under way, up to its
  concurrency (16): their ledger entries were never written;
- `outcome_unknown`: each send whose connection was lost after the whole message was handed
  over (the notifier logs `send_outcome_unknown`) may have been taken by the provider and is
  tried again: one each;
- `drain_timeouts`: a revocation waits for the sends under way on its partitions, but at most
  30 s (the notifier logs `state_drain_timed_out` with how many were still running): one each.
A duplicate beyond their sum fails the run. The README names one cause the gap does not bound:
a notifier its group dropped in the middle of a batch (heartbeats lost for the 10 s session
timeout, in a network fault or starved of CPU) goes on with the batch until a heartbeat answer
tells it; the instance that took over may send the same message again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devtools import kafka_broker, kafka_cluster
from devtools.kafka_broker import BrokerHome
from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink, local_tls, start_sink
from devtools.toxiproxy import Toxiproxy
from shared.clock import ScaledClock
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.faults.cluster_harness import (
    CHAIN_SECONDS,
    SERVICES,
    SPEED,
    START,
    Fleet,
    Flow,
    await_deliveries,
    seconds_until_no_lag,
    service_env,
)
from tests.kafka_fixture import kafka_home

NOTIFIER_CONCURRENCY = 16
BROKER_PROXIES = ("broker1", "broker2", "broker3")
PROVIDER_PROXIES = ("smtp", "sms")


@dataclass
class Rig:
    homes: tuple[BrokerHome, ...]
    toxi: Toxiproxy
    fleet: Fleet
    kafka: KafkaSettings


async def _restart(home: BrokerHome) -> None:
    await asyncio.to_thread(kafka_broker.start, home, 300.0)


async def _kill_one_of_each(rig: Rig) -> None:
    """Scale-out under faults: one instance of each service dies with the broker."""
    for module in SERVICES:
        rig.fleet.kill9(module, 1)


async def broker_kill(rig: Rig) -> None:
    leaders = await kafka_cluster.leader_counts(rig.kafka.bootstrap_servers)
    victim = kafka_cluster.home_of(rig.homes, leaders.most_common(1)[0][0])
    kafka_cluster.signal_node(victim, signal.SIGKILL)
    await _kill_one_of_each(rig)
    await asyncio.sleep(20)
    await _restart(victim)


async def broker_freeze(rig: Rig) -> None:
    leaders = await kafka_cluster.leader_counts(rig.kafka.bootstrap_servers)
    victim = kafka_cluster.home_of(rig.homes, leaders.most_common(1)[0][0])
    kafka_cluster.signal_node(victim, signal.SIGSTOP)
    await _kill_one_of_each(rig)
    await asyncio.sleep(60)
    kafka_cluster.signal_node(victim, signal.SIGCONT)


async def controller_kill(rig: Rig) -> None:
    controller = kafka_cluster.active_controller(rig.homes)
    assert controller is not None, "no active controller known"
    victim = kafka_cluster.home_of(rig.homes, controller)
    kafka_cluster.signal_node(victim, signal.SIGKILL)
    await _kill_one_of_each(rig)
    await asyncio.sleep(15)
    await _restart(victim)


async def rolling_restart(rig: Rig) -> None:
    await _kill_one_of_each(rig)
    for home in rig.homes:
        await asyncio.to_thread(kafka_broker.stop, home)
        await _restart(home)
        await _until_fully_replicated(rig.kafka.bootstrap_servers)


async def _until_fully_replicated(bootstrap: str, timeout: float = 300) -> None:
    """Like an operator's rolling restart: the next node only once every replica is in sync."""
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            described = await admin.describe_topics(await admin.list_topics())
            if all(len(p["isr"]) == len(p["replicas"]) for t in described for p in t["partitions"]):
                return
        except Exception:
            pass
        finally:
            await admin.close()
        await asyncio.sleep(1)


def network(proxies: tuple[str, ...], kind: str, seconds: float,
            **attributes: int) -> Callable[[Rig], Awaitable[None]]:
    async def fault(rig: Rig) -> None:
        for proxy in proxies:
            for stream in ("downstream", "upstream"):
                rig.toxi.add_toxic(proxy, kind, stream, **attributes)
        await asyncio.sleep(seconds)
        rig.toxi.heal()
    return fault


FAULTS: dict[str, Callable[[Rig], Awaitable[None]]] = {
    "broker-kill-leader": broker_kill,
    "broker-freeze-60s": broker_freeze,
    "controller-kill": controller_kill,
    "rolling-restart": rolling_restart,
    "brokers-latency-1s": network(BROKER_PROXIES, "latency", 30, latency=1000),
    "brokers-blackhole-30s": network(BROKER_PROXIES, "timeout", 30, timeout=0),
    "brokers-resets": network(BROKER_PROXIES, "reset_peer", 20, timeout=0),
    "brokers-bandwidth-16kBps": network(BROKER_PROXIES, "bandwidth", 30, rate=16),
    "providers-latency-1s": network(PROVIDER_PROXIES, "latency", 30, latency=1000),
    "providers-blackhole-30s": network(PROVIDER_PROXIES, "timeout", 30, timeout=0),
    "providers-resets": network(PROVIDER_PROXIES, "reset_peer", 20, timeout=0),
    "providers-bandwidth-2kBps": network(PROVIDER_PROXIES, "bandwidth", 30, rate=2),
}
SERVICE_KILLS = {"broker-kill-leader", "broker-freeze-60s", "controller-kill", "rolling-restart"}


@dataclass
class Row:
    fault: str
    courses: int
    required: int
    lost: int
    lost_sample: list[str]
    duplicates: int
    gap_allows: int
    gap_terms: dict[str, int]
    died: list[str]
    recovery_s: float | None
    seconds: float


async def run_fault(name: str, homes: tuple[BrokerHome, ...], toxi: Toxiproxy,
                    provider_ports: tuple[int, int], cafile: str, sink: MailSink,
                    sms: SmsGatewayDouble, logs: Path) -> Row:
    began = time.monotonic()
    kafka = KafkaSettings(bootstrap_servers=kafka_cluster.bootstrap(homes),
                          topic_prefix=f"f{uuid.uuid4().hex[:8]}-", client_id="cluster-faults")
    await create_topics(kafka.aiokafka_kwargs(), Topics(kafka.topic_prefix))
    origin = time.time() + 8
    smtp_port, sms_port = provider_ports
    env = service_env(kafka, smtp_port, cafile, f"http://127.0.0.1:{sms_port}", sms.token, origin)
    # The scaled clock shrinks the notifier's backoff to milliseconds; a budget this size lasts
    # as long as a real one of five attempts does at full scale (about half a minute).
    env["LEDERKONTAKT_NOTIFIER_MAX_ATTEMPTS"] = "1000"
    (logs / name).mkdir(parents=True, exist_ok=True)
    for old in (logs / name).glob("*.log"):
        old.unlink()  # the logs of this run alone: the gap terms are read from them
    fleet = Fleet(env, instances=2, log_dir=logs / name)
    rig = Rig(homes, toxi, fleet, kafka)
    flow = Flow(kafka, ScaledClock(START, SPEED, origin), run=name)
    sink.mails.clear()
    sms.messages.clear()
    fleet.start()
    flowing = asyncio.create_task(flow())
    try:
        await asyncio.sleep(max(0.0, origin - time.time()) + 10)
        await FAULTS[name](rig)
        healed = time.monotonic()
        await asyncio.sleep(5)
        flow.stop()
        await flowing
        # Count only once the services caught up: a notification still queued behind the lag
        # is late, not lost. Then the last course's reminders need their scaled week.
        recovery = await seconds_until_no_lag(kafka, healed, timeout=600)
        wanted, counts = await await_deliveries(flow.acknowledged, sink, sms, CHAIN_SECONDS + 90)
        died = fleet.died_on_their_own()
    finally:
        flow.stop()
        toxi.heal()
        fleet.stop()
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    lost = sorted(wanted - set(counts))
    terms = gap_terms(logs / name, fleet.killed["services.notifier.app"])
    return Row(fault=name, courses=len(flow.acknowledged), required=len(wanted),
               lost=len(lost), lost_sample=lost[:10], duplicates=duplicates,
               gap_allows=sum(terms.values()), gap_terms=terms,
               died=died, recovery_s=None if recovery is None else round(recovery, 1),
               seconds=round(time.monotonic() - began, 1))


def notifier_events(log_dir: Path, event: str) -> list[dict[str, object]]:
    """The notifiers' JSON log lines of one event."""
    found = []
    for path in sorted(log_dir.glob("notifier-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"event": "{event}"' in line:
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
    return found


def gap_terms(log_dir: Path, notifiers_killed: int) -> dict[str, int]:
    """What the send/ledger gap allows in this run, term by term (see the module docstring)."""
    return {
        "kills": notifiers_killed * NOTIFIER_CONCURRENCY,
        "outcome_unknown": len(notifier_events(log_dir, "send_outcome_unknown")),
        "drain_timeouts": sum(int(str(e.get("holders", 0)))
                              for e in notifier_events(log_dir, "state_drain_timed_out")),
    }


def table(rows: list[Row]) -> str:
    lines = ["| fault | courses | required | lost | duplicates (gap allows) | hand restarts | "
             "lag 0 after s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.fault} | {r.courses} | {r.required} | {r.lost} | "
                     f"{r.duplicates} ({r.gap_allows}) | {'yes: ' + ', '.join(r.died) if r.died else 'no'} | "
                     f"{r.recovery_s if r.recovery_s is not None else 'not within 600'} |")
    return "\n".join(lines)


async def main_async(names: list[str], port: int, proxy_port: int) -> list[Row]:
    results = REPO / "bench" / "results"
    logs = REPO / ".cache" / "cluster_faults"
    logs.mkdir(parents=True, exist_ok=True)
    toxi = Toxiproxy(proxy_port, log_file=logs / "toxiproxy.log").start()
    server_tls, cafile = local_tls()
    controller, sink = start_sink(server_tls)
    sms = SmsGatewayDouble().start()
    first = BrokerHome(root=kafka_home(), host="127.0.0.1", port=port)
    listen = [proxy_port + 1 + n for n in range(3)]
    for n, name in enumerate(BROKER_PROXIES):
        toxi.proxy(name, listen[n], f"127.0.0.1:{port + kafka_cluster.PORT_STRIDE * n}")
    smtp_port = int(toxi.proxy("smtp", proxy_port + 4, f"127.0.0.1:{controller.port}").split(":")[1])
    sms_port = int(toxi.proxy("sms", proxy_port + 5, sms.url.removeprefix("http://")).split(":")[1])
    homes = kafka_cluster.node_homes(first, 3, advertised_ports=listen)
    rows: list[Row] = []
    try:
        await asyncio.to_thread(kafka_cluster.reset, homes)
        await asyncio.to_thread(kafka_cluster.start, homes, 300.0)
        for name in names:
            print(f"fault {name} ...", flush=True)
            row = await run_fault(name, homes, toxi, (smtp_port, sms_port), cafile, sink, sms, logs)
            print(json.dumps(asdict(row)), flush=True)
            rows.append(row)
            (results / "cluster_faults.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
            (results / "cluster_faults.md").write_text(table(rows) + "\n")
            await asyncio.to_thread(kafka_cluster.start, homes, 300.0)  # every node back up
    finally:
        await asyncio.to_thread(kafka_cluster.reset, homes)
        toxi.stop()
        controller.stop()
        sms.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated, of: "
                        + ", ".join(FAULTS))
    parser.add_argument("--port", type=int, default=19300, help="first broker port (nine used)")
    parser.add_argument("--proxy-port", type=int, default=19320,
                        help="toxiproxy API port; its proxies use the next five")
    args = parser.parse_args()
    names = [n for n in args.faults.split(",") if n]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}")
    rows = asyncio.run(main_async(names, args.port, args.proxy_port))
    print(table(rows))
    return 0 if all(r.lost == 0 and r.duplicates <= r.gap_allows and not r.died for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
