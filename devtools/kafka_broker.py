"""A real Apache Kafka broker (KRaft) for development and tests: one combined
broker+controller node, or a cluster of such nodes (devtools/kafka_cluster.py).

The broker's jars come from Maven Central (org.apache.kafka:kafka_2.13, newest 4.x) and are
cached in a folder the repository ignores, so no Docker engine is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION_RANGE = "[4.0,5.0)"
LOG4J_SLF4J_RANGE = "[2.24,3.0)"
READY_TIMEOUT_S = 90.0

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lederkontakt.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""

LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
"""


class BrokerError(Exception):
    """A failure the operator can act on; printed as one line."""


@dataclass(frozen=True)
class BrokerHome:
    root: Path
    host: str
    port: int
    # Extra server.properties lines and storage-format arguments (e.g. a SCRAM listener).
    extra_config: tuple[str, ...] = ()
    format_args: tuple[str, ...] = ()
    node_id: int = 1
    # Every voter of the controller quorum as (node id, controller port); empty: this node alone.
    quorum: tuple[tuple[int, int], ...] = ()
    # The port clients are told to use, when it is not the listener's own (e.g. a proxy's).
    advertised_port: int | None = None
    heap: str = "768m"

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def internal_port(self) -> int:
        """Brokers of a cluster replicate over a listener of their own, so a fault put between
        clients and brokers (a proxy) never hits replication."""
        return self.port + 2

    @property
    def voters(self) -> tuple[tuple[int, int], ...]:
        return self.quorum or ((self.node_id, self.controller_port),)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def data(self) -> Path:
        return self.root / f"data-{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.root / f"broker-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.root / f"broker-{self.port}.log"

    @property
    def config_file(self) -> Path:
        return self.root / f"server-{self.port}.properties"


def default_home() -> BrokerHome:
    repo = Path(__file__).resolve().parent.parent
    root = Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", repo / ".cache" / "kafka"))
    host = os.environ.get("LEDERKONTAKT_KAFKA_HOST", "127.0.0.1")
    port = int(os.environ.get("LEDERKONTAKT_KAFKA_PORT", "9092"))
    return BrokerHome(root=root, host=host, port=port)


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BrokerError(f"'{tool}' not found on PATH; {hint}")
    return path


def kafka_version(home: BrokerHome) -> str | None:
    jars = sorted(home.libs.glob("kafka_2.13-*.jar"))
    return jars[-1].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else None


def resolve_jars(home: BrokerHome) -> str:
    """Download the broker and its runtime dependencies once; later calls reuse the cache."""
    version = kafka_version(home)
    if version is not None:
        return version
    mvn = _require("mvn", "install Maven (apt-get install maven)")
    home.root.mkdir(parents=True, exist_ok=True)
    (home.root / "pom.xml").write_text(POM.format(kafka=KAFKA_VERSION_RANGE, log4j=LOG4J_SLF4J_RANGE))
    staging = home.root / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-B", "-q", "-f", str(home.root / "pom.xml"), "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={staging}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise BrokerError(f"Maven could not resolve org.apache.kafka:kafka_2.13: {last[0]}")
    # Rename only once everything is there, so an interrupted download is never mistaken
    # for a complete cache.
    staging.rename(home.libs)
    resolved = kafka_version(home)
    if resolved is None:
        raise BrokerError("Maven finished but no kafka_2.13 jar was copied")
    return resolved


def _cluster_id() -> str:
    """A random Kafka cluster id. Like Kafka's own Uuid.randomUuid, never one that starts with
    "-": the storage tool's argument parser would take it for an option (1 in 64 of them)."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _listener_lines(home: BrokerHome) -> tuple[str, ...]:
    h, p, c = home.host, home.port, home.controller_port
    advertised = home.advertised_port or p
    if not home.quorum:
        return (f"listeners=PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
                f"advertised.listeners=PLAINTEXT://{h}:{advertised}",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT")
    i = home.internal_port
    return (f"listeners=PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c},INTERNAL://{h}:{i}",
            f"advertised.listeners=PLAINTEXT://{h}:{advertised},INTERNAL://{h}:{i}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "INTERNAL:PLAINTEXT",
            "inter.broker.listener.name=INTERNAL")


def _replication_lines(home: BrokerHome) -> tuple[str, ...]:
    """Kafka's internal topics (offsets, transactions) replicated like ours: three copies and two
    in sync once there are three nodes, so losing any one node loses no committed offset."""
    replicas = min(3, len(home.voters))
    min_isr = 2 if replicas == 3 else 1
    lines = (f"offsets.topic.replication.factor={replicas}",
             f"transaction.state.log.replication.factor={replicas}",
             f"transaction.state.log.min.isr={min_isr}",
             f"share.coordinator.state.topic.replication.factor={replicas}",
             f"share.coordinator.state.topic.min.isr={min_isr}",
             f"default.replication.factor={replicas}",
             f"min.insync.replicas={min_isr}",
             "unclean.leader.election.enable=false")
    if not home.quorum:
        return lines
    # A lagging follower leaves the ISR after 10 s (Kafka's default is 30 s): a frozen node then
    # holds up acks=all writes for a shorter while. Fewer threads: three JVMs share two cores.
    # On a loaded machine a node can take minutes to register, and a quorum vote a few seconds:
    # give registration five minutes and the quorum's timeouts some slack, so a slow start is
    # not taken for a dead node.
    return (*lines, "replica.lag.time.max.ms=10000", "num.network.threads=2",
            "num.io.threads=4", "background.threads=4", "num.recovery.threads.per.data.dir=1",
            "initial.broker.registration.timeout.ms=300000",
            "controller.quorum.election.timeout.ms=2000",
            "controller.quorum.fetch.timeout.ms=4000")


def write_config(home: BrokerHome) -> None:
    voters = ",".join(f"{node}@{home.host}:{port}" for node, port in home.voters)
    home.root.mkdir(parents=True, exist_ok=True)
    home.config_file.write_text("\n".join([
        "process.roles=broker,controller",
        f"node.id={home.node_id}",
        f"controller.quorum.voters={voters}",
        "controller.listener.names=CONTROLLER",
        f"log.dirs={home.data}",
        "num.partitions=3",
        "offsets.topic.num.partitions=10",
        "transaction.state.log.num.partitions=10",
        "group.initial.rebalance.delay.ms=0",
        "log.cleaner.backoff.ms=1000",
        # Retention is enforced once a second, so a test's shortened retention shows in seconds.
        "log.retention.check.interval.ms=1000",
        *_replication_lines(home),
        # Extra lines come last: a key given twice takes its last value.
        *(home.extra_config or _listener_lines(home)),
        "",
    ]))
    (home.root / "log4j2.yaml").write_text(LOG4J2)


# How the JVM compiles and collects. A development broker lives for minutes (a test session, a
# benchmark) on a machine of two cores it shares with everything else: the optimising compiler
# (C2) spent more CPU there than the broker's request handling did, on code that would only
# have paid it back over hours. The quick compiler alone (C1) and the serial collector (a
# heap this small collects in milliseconds) leave those cores to the services.
# LEDERKONTAKT_KAFKA_JVM_OPTS replaces these flags (e.g. "-XX:+UseG1GC" for the JVM's defaults).
JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def _java_cmd(home: BrokerHome, main: str, *args: str) -> list[str]:
    java = _require("java", "install Java 17+ (apt-get install openjdk-17-jre-headless)")
    configured = os.environ.get("LEDERKONTAKT_KAFKA_JVM_OPTS")
    flags = configured.split() if configured is not None else list(JVM_OPTS)
    return [java, "-Xms256m", f"-Xmx{home.heap}", *flags,
            f"-Dlog4j2.configurationFile={home.root / 'log4j2.yaml'}",
            "-cp", str(home.libs / "*"), main, *args]


def format_storage(home: BrokerHome, cluster_id: str | None = None) -> None:
    """Format the node's log dir once; every node of a cluster gets the same cluster id."""
    if (home.data / "meta.properties").exists():
        return
    cmd = _java_cmd(home, "kafka.tools.StorageTool", "format", "-t", cluster_id or _cluster_id(),
                    "-c", str(home.config_file), *home.format_args)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BrokerError(f"formatting KRaft storage failed: {done.stderr.strip()[-300:]}")


def running_pid(home: BrokerHome) -> int | None:
    """The pid in our pid file, if that process is alive and is our broker."""
    try:
        pid = int(home.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    return pid if b"kafka.Kafka" in cmdline and str(home.config_file).encode() in cmdline else None


async def _answers(bootstrap: str) -> bool:
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    # Refused connections are expected while the broker boots; they are not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        await admin.close()


def wait_ready(home: BrokerHome, proc: subprocess.Popen[bytes],
               timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = home.log_file.read_text(errors="replace").splitlines()[-5:]
            raise BrokerError("broker exited during start-up: " + " | ".join(tail))
        if asyncio.run(_answers(home.bootstrap)):
            return
        time.sleep(0.3)
    raise BrokerError(f"broker did not answer on {home.bootstrap} within {timeout:.0f}s; "
                      f"see {home.log_file}")


def launch(home: BrokerHome) -> subprocess.Popen[bytes]:
    """Start the node's process (storage already formatted) without waiting for it: the nodes of
    a cluster only answer once a quorum of them runs."""
    write_config(home)
    with home.log_file.open("ab") as log:
        proc = subprocess.Popen(_java_cmd(home, "kafka.Kafka", str(home.config_file)),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    home.pid_file.write_text(str(proc.pid))
    return proc


def start(home: BrokerHome, timeout: float = READY_TIMEOUT_S) -> str:
    """Start one node (alone, or back into its running cluster) and wait until it answers."""
    if running_pid(home) is not None:
        return home.bootstrap
    resolve_jars(home)
    write_config(home)
    format_storage(home)
    wait_ready(home, launch(home), timeout)
    return home.bootstrap


def stop(home: BrokerHome, timeout: float = 30.0) -> bool:
    pid = running_pid(home)
    if pid is None:
        home.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGCONT)  # a node frozen by a fault test could not act on SIGTERM
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(home) == pid:
        time.sleep(0.2)
    if running_pid(home) == pid:
        os.kill(pid, signal.SIGKILL)
    home.pid_file.unlink(missing_ok=True)
    return True


def reset(home: BrokerHome) -> None:
    stop(home)
    shutil.rmtree(home.data, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from devtools import kafka_cluster

    parser = argparse.ArgumentParser(prog="kafka", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "reset"])
    parser.add_argument("--nodes", type=int, default=None,
                        help="nodes of the local cluster (start: 1; others: as started)")
    args = parser.parse_args(argv)
    first = default_home()
    nodes = args.nodes or (1 if args.command == "start" else kafka_cluster.recorded_size(first))
    try:
        homes = kafka_cluster.node_homes(first, nodes)
        if args.command == "start":
            print(kafka_cluster.start(homes))
        elif args.command == "stop":
            stopped = kafka_cluster.stop(homes)
            print(f"stopped {sum(stopped)} of {len(homes)} node(s)" if any(stopped)
                  else "not running")
        elif args.command == "status":
            version = kafka_version(first) or "not downloaded"
            print(f"kafka {version}, {len(homes)} node(s), bootstrap "
                  f"{kafka_cluster.bootstrap(homes)}")
            print("\n".join(kafka_cluster.describe(homes)))
            return 0 if all(running_pid(h) for h in homes) else 3
        else:
            kafka_cluster.reset(homes)
            print(f"stopped and removed {', '.join(str(h.data) for h in homes)}")
    except BrokerError as exc:
        print(f"kafka: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
