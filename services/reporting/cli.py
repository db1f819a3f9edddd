"""`lederkontakt report --period 2026-11 [--format csv|json] [--team-lead]`."""

from __future__ import annotations

import asyncio
import sys

from services.reporting.adapters.reports_in import read_reports
from services.reporting.domain.export import to_csv
from services.reporting.domain.periods import Period
from shared.settings import KafkaSettings


def run(period_text: str, fmt: str, team_lead: bool) -> int:
    period = Period.parse(period_text)
    audience = "team_lead" if team_lead else "management"
    reports = asyncio.run(read_reports(KafkaSettings()))
    report = reports.get(f"{audience}:{period}")
    if report is None:
        print(f"lederkontakt: no report for {period} on the reports topic (is the reporting "
              f"service running, and are there courses in {period.year}?)", file=sys.stderr)
        return 1
    if fmt == "csv":
        sys.stdout.buffer.write(to_csv(report))
        sys.stdout.buffer.flush()
    else:
        print(report.model_dump_json(indent=2))
    return 0
