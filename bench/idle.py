"""What the running services cost while nothing happens: the services of both e2e paths
(referral, notifier, contact scheduler) as processes on one broker, one referral through to
warm them up, then `--seconds` with no load. Per process its CPU milliseconds per second (from
/proc), the broker's per thread group (network, request handlers, GC, compiler...), and the
requests the broker answered per second by type (its JMX RequestsPerSec counts, read through
the JDK's attach API by BrokerRequests.java) with its garbage collections. Writes
bench/results/<name>.json.

    .venv/bin/python bench/idle.py [--seconds 30] [--name idle] [--code DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from common import (
    REPO,
    SmtpServerProcess,
    broker,
    broker_counts,
    fresh_topics,
    thread_cpu,
    write_result,
)
from e2e import _broker_pid, _cpu_seconds, _warm_up, start_services

from devtools.sms_gateway import SmsGatewayDouble
from shared.topics import Topics

SERVICES = ["referral", "notifier", "contact_scheduler"]


async def idle(bootstrap: str, seconds: float, code: Path) -> dict[str, object]:
    settings = await fresh_topics(bootstrap)
    topics = Topics(settings.topic_prefix)
    smtp = SmtpServerProcess()
    sms = SmsGatewayDouble().start()
    procs = start_services(settings, SERVICES, smtp, sms.url, code, "idle")
    measured = [*SERVICES, "broker", "smtp_server"]
    broker_pid = _broker_pid()
    pids = [*(p.pid for p in procs), broker_pid, smtp.pid]
    try:
        await _warm_up(settings, topics)
        await asyncio.sleep(5)  # group joins and the warm-up's commits settle
        requests_from = broker_counts(broker_pid)
        cpu_from, threads_from, start = _cpu_seconds(pids), thread_cpu(broker_pid), time.time()
        await asyncio.sleep(seconds)
        elapsed = time.time() - start
        cpu_to, threads_to = _cpu_seconds(pids), thread_cpu(broker_pid)
        requests_to = broker_counts(broker_pid)
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        sms.stop()
        smtp.received()
    per_s = {name: round((requests_to[name] - requests_from[name]) / elapsed, 2)
             for name in requests_to if requests_to[name] != requests_from[name]}
    threads = {name: round(1000 * (threads_to[name] - threads_from[name]) / elapsed, 2)
               for name in threads_to if threads_to[name] - threads_from[name] > 0}
    return {
        "seconds": round(elapsed, 1),
        "cpu_ms_per_s": {m: round(1000 * (cpu_to[i] - cpu_from[i]) / elapsed, 2)
                         for i, m in enumerate(measured)},
        "broker_threads_cpu_ms_per_s": dict(sorted(threads.items(), key=lambda kv: -kv[1])),
        "broker_per_s": dict(sorted(per_s.items(), key=lambda kv: -kv[1])),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--name", default="idle", help="result file name under bench/results/")
    parser.add_argument("--code", type=Path, default=REPO,
                        help="a checkout whose services are measured (default: this one)")
    args = parser.parse_args()
    with broker() as bootstrap:
        result = {"load_average_at_start": os.getloadavg(),
                  **asyncio.run(idle(bootstrap, args.seconds, args.code.resolve())),
                  "load_average_at_end": os.getloadavg()}
    write_result(args.name, result)


if __name__ == "__main__":
    main()
