"""Throughput and peak memory of the referral service on a burst of referrals (real broker).

    .venv/bin/python bench/referral_burst.py [--count 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from common import REPO, broker, count_records, fresh_topics, peak_rss_mb, service_env, write_result

from shared.events import encode_event
from shared.kafka import EventProducer
from shared.topics import Topics
from tests.samples import referral


async def run(bootstrap: str, count: int) -> dict[str, object]:
    settings = await fresh_topics(bootstrap)
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    t0 = time.perf_counter()
    pending = []
    for i in range(count):
        event = referral(f"bench-{i}", employee=referral().employee.model_copy(
            update={"email": f"emp{i}@example.org", "phone": None}))
        pending.append(await producer._producer.send(topics.referrals, encode_event(event),
                                                     key=event.key.encode()))
    await asyncio.gather(*pending)
    produced_s = time.perf_counter() - t0
    await producer.stop()

    proc = subprocess.Popen([sys.executable, "-m", "services.referral.app"], cwd=REPO,
                            env=service_env(settings), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    done = 0
    peak = 0.0
    try:
        while done < count and time.perf_counter() - start < 600 and proc.poll() is None:
            await asyncio.sleep(0.5)
            done = await count_records(settings, topics.courses)
            peak = max(peak, peak_rss_mb(proc.pid))
        elapsed = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)
    return {"referrals": count, "courses_opened": done, "seconds": round(elapsed, 2),
            "referrals_per_s": round(done / elapsed, 1), "peak_rss_mb": round(peak, 1),
            "produce_seconds": round(produced_s, 2),
            "note": "service start-up and group join included in seconds"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    with broker() as bootstrap:
        write_result("referral_burst", asyncio.run(run(bootstrap, args.count)))


if __name__ == "__main__":
    main()
