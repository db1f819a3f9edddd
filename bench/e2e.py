"""End to end through real processes, as a latency curve: offered loads in rising order
(default 10, 20, 50, 100, 200 events/s), then saturation, each on fresh topics and services,
for two paths: `referrals` (referral -> notifications.requested -> notifier -> SMTP) and
`sessions` (sessions -> referral -> consents -> scheduler -> notifier -> SMTP). In the same run,
the two ceilings it is compared with: the same broker's raw aiokafka passthrough (consume ->
produce, no logic) and raw aiosmtplib to the same SMTP server with as many connections as the
notifier uses (no Kafka at all). The SMTP server runs in a process of its own, as a real one
would. Writes bench/results/<name>.json and a plot of the curve, <name>.png.

    .venv/bin/python bench/e2e.py [--rates 10 20 50 100 200] [--seconds 10] [--events 3000]
                                  [--before ../checkout-before] [--trace]

--before measures a checkout of the code before a change at every point too, just before this
one's, so both curves come from one run on the same machine."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common import (
    REPO,
    SMTP_CONNECTIONS,
    SmtpServerProcess,
    broker,
    broker_counts,
    count_records,
    fresh_topics,
    smtp_ceiling,
    thread_cpu,
    write_result,
)
from otlp_sink import OtlpSink, hops, print_hops

from devtools.sms_gateway import SmsGatewayDouble
from services.referral.domain.intake import course_id_for
from shared.events import ConsentGiven, ReferredPerson, encode_event
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.samples import referral

# --requests: each point also reads the broker's request counts (JMX) and its threads' CPU.
COUNT_REQUESTS = False


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 3) if ordered else -1.0


async def passthrough(bootstrap: str, count: int) -> float:
    """Messages/s of a consume -> produce loop with no logic, on the same broker."""
    settings = await fresh_topics(bootstrap)
    topics = Topics(settings.topic_prefix)
    kwargs = settings.aiokafka_kwargs()
    producer = AIOKafkaProducer(**kwargs, acks="all", enable_idempotence=True)
    await producer.start()
    payload = encode_event(referral("raw"))
    await asyncio.gather(*[await producer.send(topics.referrals, payload, key=str(i).encode())
                           for i in range(count)])
    consumer = AIOKafkaConsumer(topics.referrals, **kwargs, group_id=f"{topics.prefix}raw",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    moved, start = 0, time.perf_counter()
    while moved < count:
        batch = await consumer.getmany(timeout_ms=500)
        futures = [await producer.send(topics.courses, r.value, key=r.key)
                   for part in batch.values() for r in part]
        await asyncio.gather(*futures)
        await consumer.commit()
        moved += len(futures)
    elapsed = time.perf_counter() - start
    await consumer.stop()
    await producer.stop()
    return count / elapsed


async def pipeline(bootstrap: str, count: int, rate: float | None,
                   path: str = "referrals", trace: bool = False,
                   code: Path = REPO) -> dict[str, object]:
    """`referrals`: each event a referral, each answered by a receipt e-mail to its leader
    (referral -> notifier). `sessions`: courses opened beforehand (not measured), then each
    event a session event: all three parties agree to a three-party meeting, three events a
    course; the scheduler's news goes to leader, employee and psychologist, and the
    psychologist is reminded of the new meeting point: four e-mails per three events, through
    all three services (sessions -> referral -> consents -> scheduler -> notifier)."""
    settings = await fresh_topics(bootstrap)
    topics = Topics(settings.topic_prefix)
    smtp = SmtpServerProcess()
    sms = SmsGatewayDouble().start()
    sink = OtlpSink() if trace else None
    services = ["referral", "notifier"] + (["contact_scheduler"] if path == "sessions" else [])
    procs = start_services(settings, services, smtp, sms.url, code, f"e2e-{path}",
                           sink.endpoint if sink is not None else None)
    # Besides the services, what else on this machine works for each event: the broker, the
    # SMTP server and this program (it offers the events and reads the mails back).
    measured = [*services, "broker", "smtp_server", "bench"]
    pids: list[int | None] = [*(p.pid for p in procs), _broker_pid(), smtp.pid, os.getpid()]
    try:
        await _warm_up(settings, topics)
        if path == "sessions":
            courses = count // 3
            await _offer(settings, topics, courses, None)
            await _consent_to_leader_contact(settings, topics, courses)
            await _settled(smtp, courses)
            requests_from = broker_counts(pids[-3]) if COUNT_REQUESTS else None
            offered_from, before = time.time(), smtp.count
            cpu_from, busy_from = _cpu_seconds(pids), _machine_busy()
            threads_from = thread_cpu(pids[-3])
            sent_at = await _offer_sessions(settings, topics, courses, rate)
            # Three-party news to three people, and the psychologist's first reminder of the
            # new meeting point (its 08:30 has passed, so it fires at once): 4 mails a course.
            expected = before + 4 * courses
        else:
            requests_from = broker_counts(pids[-3]) if COUNT_REQUESTS else None
            offered_from = time.time()
            cpu_from, busy_from = _cpu_seconds(pids), _machine_busy()
            threads_from = thread_cpu(pids[-3])
            sent_at = await _offer(settings, topics, count, rate)
            expected = count + 1
        deadline = time.time() + 900
        while smtp.count < expected and time.time() < deadline:
            await asyncio.sleep(0.1)
        cpu_to, busy_to = _cpu_seconds(pids), _machine_busy()
        threads_to = thread_cpu(pids[-3])
        requests_to = broker_counts(pids[-3]) if requests_from is not None else None
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        sms.stop()
        mails = smtp.received()
        spans = sink.stop() if sink is not None else []
    done = {to: at for to, at in mails if at >= offered_from}
    latencies = [done[k] - t for k, t in sent_at.items() if k in done]
    last = max(at for _, at in mails)
    events = count if path == "referrals" else 3 * (count // 3)
    result: dict[str, object] = {
        "events": events, "mails": len([m for m in mails if m[1] >= offered_from]),
        "events_per_s": round(events / (last - offered_from), 1),
        "p50_s": _pct(latencies, 0.5), "p99_s": _pct(latencies, 0.99),
        # CPU time each service process used per measured event: unlike the latencies, it does
        # not grow when other programs take the machine's cores.
        "cpu_ms_per_event": {m: round(1000 * (cpu_to[i] - cpu_from[i]) / events, 3)
                             for i, m in enumerate(measured)},
        # How much of the machine's cores were busy during the point (all programs, ours and
        # others'): near 1.0 every record queues for a core, whatever the code does.
        "machine_busy_share": round((busy_to[0] - busy_from[0])
                                    / max(1, busy_to[1] - busy_from[1]), 3)}
    # Where the broker's share goes: its threads (request handlers, network, the JIT
    # compiler, GC) and, with --requests, the requests it answered, per event.
    result["broker_threads_cpu_ms_per_event"] = _per_event(threads_to, threads_from, events, 1000)
    if requests_from is not None and requests_to is not None:
        result["broker_per_event"] = _per_event(requests_to, requests_from, events, 1)
    if sink is not None:
        result["hops"] = hops(spans, offered_from, topics.prefix)
    return result


def _per_event(to: dict[str, float], since: dict[str, float], events: int,
               scale: float) -> dict[str, float]:
    """The growth of each counter per event, largest first (what grew less than 0.01 left out)."""
    grown = {name: round(scale * (value - since.get(name, 0)) / events, 3)
             for name, value in to.items()}
    return dict(sorted(((k, v) for k, v in grown.items() if v >= 0.01), key=lambda kv: -kv[1]))


def start_services(settings: KafkaSettings, services: list[str], smtp: SmtpServerProcess,
                   sms_url: str, code: Path, log_name: str,
                   otlp_endpoint: str | None = None) -> list[subprocess.Popen[bytes]]:
    """The services as processes of `code`, as they would run, on the bench's SMTP server and
    SMS gateway; each one's log in .cache/bench/<log_name>-<service>.log."""
    env = {**os.environ, "PYTHONPATH": str(code), "LEDERKONTAKT_HTTP_PORT": "0",
           "LEDERKONTAKT_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "LEDERKONTAKT_TOPIC_PREFIX": settings.topic_prefix,
           "LEDERKONTAKT_CLOCK_START": "2026-11-26T11:00:00+00:00",
           # The services' clock is a Thursday at 11:00 whatever day the bench runs on, and the
           # bench stamps its events with the wall clock: they must not be refused as
           # future-dated.
           "LEDERKONTAKT_MAX_CLOCK_SKEW_SECONDS": str(60 * 86400),
           "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(smtp.port),
           "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": smtp.cafile,
           "LEDERKONTAKT_NOTIFIER_SMTP_CONNECTIONS": str(SMTP_CONNECTIONS),
           "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": sms_url,
           # The bench's referrals name their own staff under the development key.
           "LEDERKONTAKT_DEVELOPMENT": "1"}
    if otlp_endpoint is not None:
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint, OTEL_BSP_SCHEDULE_DELAY="200")
    logs = REPO / ".cache" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([sys.executable, "-m", f"services.{m}.app"], cwd=code, env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=(logs / f"{log_name}-{m}.log").open("w"))
            for m in services]


def _cpu_seconds(pids: list[int | None]) -> list[float]:
    """User + system CPU seconds of each process so far (/proc/<pid>/stat; 0 for one that is
    not known)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            out.append(0.0)
            continue
        out.append((int(fields[11]) + int(fields[12])) / ticks)
    return out


def _broker_pid() -> int | None:
    """The local broker the bench uses, when it started one (not an external one)."""
    from devtools import kafka_broker
    from tests.kafka_fixture import TEST_BROKER_PORT, kafka_home

    return kafka_broker.running_pid(kafka_broker.BrokerHome(
        root=kafka_home(), host="127.0.0.1", port=TEST_BROKER_PORT))


def _machine_busy() -> tuple[int, int]:
    """Busy and total jiffies of all cores so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


async def _settled(smtp: SmtpServerProcess, at_least: int) -> None:
    """Wait until the opened courses' mails (receipts, start-call reminders) have stopped."""
    seen, quiet_since = -1, time.time()
    while smtp.count < at_least or time.time() - quiet_since < 3:
        if smtp.count != seen:
            seen, quiet_since = smtp.count, time.time()
        await asyncio.sleep(0.2)


async def _consent_to_leader_contact(settings: KafkaSettings, topics: Topics,
                                     courses: int) -> None:
    """Each employee's own consent to leader contact, before the measured events: a
    three-party meeting needs it as well as the three parties' agreement."""
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), linger_ms=2)
    await producer.start()
    for n in range(courses):
        course = course_id_for(f"e2e-{n}")
        event = ConsentGiven(occurred_at=datetime.now(UTC), course_id=course, party="employee",
                             scope="leader_contact")
        await producer.send(topics.sessions, encode_event(event), key=course.encode())
    await producer.stop()


async def _offer_sessions(settings: KafkaSettings, topics: Topics, courses: int,
                          rate: float | None) -> dict[str, float]:
    """Three consent.given events a course; the latency of a course counts from its third."""
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), linger_ms=2)
    await producer.start()
    sent_at: dict[str, float] = {}
    start, i = time.time(), 0
    for n in range(courses):
        course = course_id_for(f"e2e-{n}")
        for party in ("employee", "leader", "psychologist"):
            if rate:
                delay = start + i / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            i += 1
            event = ConsentGiven(occurred_at=datetime.now(UTC), course_id=course, party=party,
                                 scope="three_party_meeting")
            sent_at[f"leader{n}@example.org"] = time.time()
            await producer.send(topics.sessions, encode_event(event), key=course.encode())
    await producer.stop()
    return sent_at


async def _warm_up(settings: KafkaSettings, topics: Topics) -> None:
    """One referral through the whole path, so group joins are not measured."""
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs())
    await producer.start()
    await producer.send_and_wait(topics.referrals, encode_event(referral("warm-up")), key=b"w")
    await producer.stop()
    while await count_records(settings, topics.notifications_status) < 1:
        await asyncio.sleep(0.1)


async def _offer(settings: KafkaSettings, topics: Topics, count: int,
                 rate: float | None) -> dict[str, float]:
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), linger_ms=2)
    await producer.start()
    events = [encode_event(referral(f"e2e-{i}", leader=ReferredPerson(
        name=f"Leder {i}", email=f"leader{i}@example.org"), employee=ReferredPerson(
        name=f"Medarbejder {i}", email=f"employee{i}@example.org"))) for i in range(count)]
    sent_at: dict[str, float] = {}
    start = time.time()
    for i, value in enumerate(events):
        if rate:
            delay = start + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        sent_at[f"leader{i}@example.org"] = time.time()
        await producer.send(topics.referrals, value, key=f"e2e-{i}".encode())
    await producer.stop()
    return sent_at


def _events_at(rate: float, seconds: float, path: str) -> int:
    n = max(60, int(rate * seconds))
    return n - n % 3 if path == "sessions" else n


def curves(bootstrap: str, path: str, rates: list[float], seconds: float, events: int,
           trace: bool, codes: dict[str, Path]) -> dict[str, dict[str, object]]:
    """The offered loads in rising order, then saturation, each on fresh topics and services.
    With more than one checkout, each point is measured for every checkout in turn, so that a
    change in what else the machine is doing falls on all of them alike."""
    points: dict[str, list[dict[str, object]]] = {label: [] for label in codes}
    out: dict[str, dict[str, object]] = {label: {} for label in codes}
    for rate in [*rates, None]:
        for label, code in codes.items():
            n = events if rate is None else _events_at(rate, seconds, path)
            point = asyncio.run(pipeline(bootstrap, n, rate, path, trace, code))
            points[label].append({"offered_per_s": rate, **point})
            if rate is not None:
                out[label][f"offered_{int(rate)}_per_s"] = point
            _print_point(f"{path} {label}".strip(), "saturation" if rate is None
                         else f"{rate:g}/s", point)
    for label, measured in points.items():
        out[label].update(_summary(measured))
    return out


def _summary(points: list[dict[str, object]]) -> dict[str, object]:
    saturated = points[-1]
    half = float(saturated["events_per_s"]) / 2  # type: ignore[arg-type]
    under_half = [p for p in points if p["offered_per_s"] is not None
                  and float(p["offered_per_s"]) <= half]  # type: ignore[arg-type]
    return {"curve": points, "saturation": saturated, "half_saturation_per_s": round(half, 1),
            "p99_below_250ms_up_to_half_saturation": bool(under_half) and all(
                float(p["p99_s"]) < 0.25 for p in under_half)}  # type: ignore[arg-type]


def _print_point(path: str, offered: str, point: dict[str, object]) -> None:
    print(f"{path:16} offered {offered:>10}: {point['events_per_s']:>7}/s  p50 {point['p50_s']:.3f} s"
          f"  p99 {point['p99_s']:.3f} s  cores busy {point.get('machine_busy_share')}"
          f"  CPU ms/event {point.get('cpu_ms_per_event')}",
          file=sys.stderr, flush=True)
    for key in ("broker_threads_cpu_ms_per_event", "broker_per_event"):
        counts = point.get(key)
        if isinstance(counts, dict):
            print(f"{'':16} {key}: {dict(list(counts.items())[:8])}", file=sys.stderr, flush=True)
    hops = point.get("hops")
    if isinstance(hops, dict):
        print_hops(hops)


def _plot_path(ax: Any, runs: dict[str, Any], name: str, colour: str, alpha: float) -> None:
    points = [p for p in runs["curve"] if p["offered_per_s"]]
    x = [p["offered_per_s"] for p in points]
    ax.plot(x, [p["p50_s"] for p in points], "o--", color=colour, alpha=alpha, label=f"{name} p50")
    ax.plot(x, [p["p99_s"] for p in points], "s-", color=colour, alpha=alpha, label=f"{name} p99")
    # Saturation at the rate it reached, not joined to the curve; the dotted line is half of it.
    sat = runs["saturation"]
    ax.plot([sat["events_per_s"]] * 2, [sat["p50_s"], sat["p99_s"]], "*", markersize=12,
            color=colour, alpha=alpha,
            label=f"{name} saturation ({sat['events_per_s']}/s) p50, p99")
    ax.axvline(sat["events_per_s"] / 2, color=colour, alpha=0.4 * alpha, linestyle=":")


def plot(result: dict[str, object], out: Path) -> None:
    """Offered load against p50/p99 latency per path; saturation at the rate it reached."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    before = result.get("before")
    for runs_of, label, alpha in ((result, "", 1.0),
                                  (before if isinstance(before, dict) else {}, "before ", 0.35)):
        for path, colour in (("sessions", "tab:blue"), ("referrals", "tab:orange")):
            runs = runs_of.get(path)
            if isinstance(runs, dict):
                _plot_path(ax, runs, f"{label}{path}", colour, alpha)
    ax.axhline(0.25, color="red", alpha=0.5, linewidth=1, label="250 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, events/s (stars: saturation; dotted: half of it)")
    ax.set_ylabel("latency, s (event in to e-mail accepted)")
    ax.set_title("lederkontakt end to end: latency against offered load")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000, help="events of the saturation run")
    parser.add_argument("--rates", type=float, nargs="+", default=None,
                        help="offered loads, events/s (default 10 20 50 100 200; with --trace "
                             "20 200)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="how long each offered load lasts (at least 60 events)")
    parser.add_argument("--paths", nargs="+", default=["sessions", "referrals"])
    parser.add_argument("--trace", action="store_true",
                        help="services export spans over OTLP to this program, which prints per "
                             "hop how long records waited before they were consumed and how long "
                             "their handler took")
    parser.add_argument("--passthrough-count", type=int, default=30_000,
                        help="messages of the raw passthrough ceiling")
    parser.add_argument("--requests", action="store_true",
                        help="each point also counts the requests the broker answered, by type "
                             "(JMX, through the JDK's attach API)")
    parser.add_argument("--name", default="e2e", help="result file name under bench/results/")
    parser.add_argument("--before", type=Path, default=None,
                        help="a checkout of the code before a change: each point is measured "
                             "with its services too, just before this checkout's, in the same "
                             "run (the curves are compared without the machine's drift)")
    args = parser.parse_args()
    global COUNT_REQUESTS
    COUNT_REQUESTS = args.requests
    rates = args.rates or ([20.0, 200.0] if args.trace else [10.0, 20.0, 50.0, 100.0, 200.0])
    result: dict[str, object] = {"events": args.events, "smtp_connections": SMTP_CONNECTIONS,
                                 "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with broker() as bootstrap:
        raw = asyncio.run(passthrough(bootstrap, max(args.events, args.passthrough_count)))
        server = SmtpServerProcess()
        smtp = asyncio.run(smtp_ceiling(server.port, server.cafile, args.events,
                                        SMTP_CONNECTIONS))
        server.received()
        result.update({"raw_passthrough_per_s": round(raw, 1), "raw_smtp_per_s": round(smtp, 1)})
        codes = {"": REPO} if args.before is None else {"before": args.before.resolve(),
                                                            "": REPO}
        for path in args.paths:
            measured = curves(bootstrap, path, sorted(rates), args.seconds, args.events,
                              args.trace, codes)
            for label, runs in measured.items():
                sat = float(runs["saturation"]["events_per_s"])  # type: ignore[index]
                runs.update({"ratio_to_passthrough": round(sat / raw, 4),
                             "ratio_to_raw_smtp": round(sat / smtp, 4)})
                target = result if not label else result.setdefault("before", {})
                target[path] = runs  # type: ignore[index]
    result["load_average_at_end"] = os.getloadavg()
    write_result(args.name, result)
    plot(result, REPO / "bench" / "results" / f"{args.name}.png")


if __name__ == "__main__":
    main()
