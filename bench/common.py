"""Helpers the benchmark programs share: a broker, topics, counting records, peak memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from aiokafka import AIOKafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devtools.smtp_sink import local_tls, start_sink
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.kafka_fixture import kafka_bootstrap_servers


@contextlib.contextmanager
def broker() -> Iterator[str]:
    with kafka_bootstrap_servers() as bootstrap:
        yield bootstrap


async def fresh_topics(bootstrap: str) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"b{uuid.uuid4().hex[:8]}-")
    await create_topics(settings.aiokafka_kwargs(), Topics(settings.topic_prefix),
                        settings.replication_factor)
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
            "LEDERKONTAKT_TOPIC_PREFIX": settings.topic_prefix, "PYTHONPATH": str(REPO),
            # The benchmarks' referrals name their own staff under the development key.
            "LEDERKONTAKT_DEVELOPMENT": "1"}


def write_result(name: str, result: dict[str, object]) -> None:
    out = REPO / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


SMTP_CONNECTIONS = 8


def _serve_smtp(out: Any, stop: Any, count: Any) -> None:
    """The SMTP server's process: reports its port and CA, keeps `count` up to date, and at the
    end says who got mail and when."""
    server_tls, cafile = local_tls()
    controller, sink = start_sink(server_tls)
    out.put((controller.port, cafile))
    while not stop.wait(0.05):
        count.value = len(sink.mails)
    out.put([(m.to, m.received_at) for m in sink.mails])
    controller.stop()


class SmtpServerProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._out, self._stop = context.Queue(), context.Event()
        self._count = context.Value("i", 0)
        self._process = context.Process(target=_serve_smtp,
                                        args=(self._out, self._stop, self._count))
        self._process.start()
        self.port, self.cafile = self._out.get(timeout=60)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def count(self) -> int:
        """Mails accepted so far (updated every 50 ms)."""
        return int(self._count.value)

    def received(self) -> list[tuple[str, float]]:
        """Stops the server; the recipients and arrival times of every mail it accepted."""
        self._stop.set()
        mails: list[tuple[str, float]] = self._out.get(timeout=60)
        self._process.join(30)
        return mails


async def smtp_ceiling(port: int, cafile: str, count: int, connections: int) -> float:
    """Mails/s of raw aiosmtplib to the server, `connections` at once, nothing else running."""
    async def client(k: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True,
                               tls_context=ssl.create_default_context(cafile=cafile))
        await smtp.connect()
        for i in range(count // connections):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@tidlig.dk", f"raw{k}-{i}@x.org", "x"
            msg.set_content("Pia Psykolog ringer til dig senest 30.11.2026.")
            await smtp.send_message(msg)
        await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(connections)))
    return count // connections * connections / (time.perf_counter() - start)


def broker_counts(pid: int | None) -> Counter[str]:
    """The broker's request counts by type and GC counts so far (empty without a JDK)."""
    java = shutil.which("java")
    if pid is None or java is None:
        return Counter()
    done = subprocess.run([java, str(Path(__file__).with_name("BrokerRequests.java")), str(pid)],
                          capture_output=True, text=True, check=False, timeout=120)
    counts: Counter[str] = Counter()
    for line in done.stdout.splitlines():
        name, _, value = line.rpartition(" ")
        counts[name] = int(value)
    return counts


def thread_cpu(pid: int | None) -> Counter[str]:
    """CPU seconds of each of a process's thread groups (thread names without their numbers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: Counter[str] = Counter()
    if pid is None:
        return out
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[re.sub(r"[-#]?\d+", "", comm)] += (int(fields[11]) + int(fields[12])) / ticks
    return out
