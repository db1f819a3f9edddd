"""Run every benchmark and print one table of their figures.

    .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def run(script: str, *args: str) -> None:
    print(f"running {script} {' '.join(args)}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, str(BENCH / script), *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def table() -> str:
    def load(name: str) -> dict:  # type: ignore[type-arg]
        return json.loads((RESULTS / f"{name}.json").read_text())

    rows: list[tuple[str, str]] = []
    e2e = load("e2e")
    rows += [
        ("raw aiokafka passthrough", f"{e2e['raw_passthrough_per_s']} msgs/s"),
        ("raw aiosmtplib, no Kafka", f"{e2e['raw_smtp_per_s']} mails/s "
                                     f"({e2e['smtp_connections']} connections)"),
    ]
    for path in ("sessions", "referrals"):
        runs = e2e[path]
        offered = sorted(((int(k.split("_")[1]), v) for k, v in runs.items()
                          if k.startswith("offered_")), key=lambda kv: kv[0])
        sat = runs["saturation"]
        rows += [(f"e2e {path}, offered {rate}/s", f"{v['events_per_s']}/s, p50 {v['p50_s']} s, "
                                                   f"p99 {v['p99_s']} s") for rate, v in offered]
        rows += [
            (f"e2e {path}, saturation", f"{sat['events_per_s']}/s, p50 {sat['p50_s']} s, "
                                        f"p99 {sat['p99_s']} s"),
            (f"e2e {path} / passthrough", str(runs["ratio_to_passthrough"])),
            (f"e2e {path} / raw aiosmtplib", str(runs["ratio_to_raw_smtp"])),
        ]
    ref = load("referral_burst")
    rows.append(("referral burst", f"{ref['referrals_per_s']} referrals/s over {ref['referrals']}, "
                                   f"peak {ref['peak_rss_mb']} MB"))
    for r in load("scheduler_scale")["runs"]:
        rows.append((f"scheduler {r['courses']:,} courses",
                     f"{r['memory_mb']} MB, rebuild {r['rebuild_seconds']} s, 08:30 burst of "
                     f"{r['burst_courses']} courses ({r['burst_notifications']} reminders): "
                     f"p50 {r['lateness_p50_s']} s, p99 {r['lateness_p99_s']} s"))
    n = load("notifier_throughput")
    rows.append(("notifier vs raw aiosmtplib", f"{n['pipeline_msgs_per_s']} vs "
                                               f"{n['raw_aiosmtplib_msgs_per_s']} msgs/s "
                                               f"(ratio {n['ratio']}, {n['smtp_connections']} "
                                               "connections each)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"| {k:{width}} | {v} |" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    quick = args.quick
    run("e2e.py", "--events", "1000" if quick else "3000")
    run("referral_burst.py", "--count", "2000" if quick else "20000")
    run("scheduler_scale.py", "--courses", *(["20000"] if quick else ["100000", "1000000"]))
    run("notifier_throughput.py", "--count", "500" if quick else "2000")
    print(table())


if __name__ == "__main__":
    main()
