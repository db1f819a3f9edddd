"""Rebuilds the reports when the facts changed (or the day did) and publishes those whose
content changed to the compacted `reports` topic, keyed `<audience>:<period>`. Every instance
of the service does this from its global view of the facts; they publish the same bytes, and
compaction keeps one."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

from services.reporting.adapters.facts_view import GlobalFacts
from services.reporting.domain.facts import CourseFacts
from services.reporting.domain.figures import Rules
from services.reporting.domain.orgunits import OrgUnits
from services.reporting.domain.publication import build_reports
from services.reporting.domain.report import Report
from shared.background import Background
from shared.calendar import WorkingDayCalendar, local_date
from shared.clock import Clock
from shared.kafka import EventProducer, Record
from shared.logging import get_logger
from shared.state import ChangelogTable
from shared.timers import tick_forever

log = get_logger("reporting")
REPORT_TYPE = b"report"


class ReportPublisher:
    def __init__(self, topic: str, producer: EventProducer, view: GlobalFacts,
                 table: ChangelogTable[CourseFacts], org: OrgUnits, clock: Clock,
                 retention: timedelta, interval: float) -> None:
        self.topic = topic
        self._producer = producer
        self._view = view
        self._table = table
        self._org = org
        self._clock = clock
        self._calendar = WorkingDayCalendar()
        self._retention = retention
        self._interval = interval
        self._built: tuple[int, date] | None = None
        self._published: dict[str, str] = {}
        self.latest: dict[str, Report] = {}
        self._loop = Background(self._run, name="reporting-publisher")
        self.rounds = 0
        self.last_build_seconds = 0.0

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        await self._view.caught_up.wait()
        # A failed round is retried on the next; the service goes on.
        await tick_forever(self._round, lambda: self._interval, "report_round_failed", log)

    async def _round(self) -> None:
        await self.sweep()
        await self.publish_once()

    async def sweep(self) -> int:
        """Deletes the facts of this instance's courses that ended longer ago than retention."""
        today = local_date(self._clock.now())
        expired = [(k, self._table.partition_of(k)) for k, f in self._table.items()
                   if f.expired(today, self._retention)]
        for key, partition in expired:
            if partition is not None:
                await self._table.delete(key, partition)
        if expired:
            log.info("facts_deleted_after_retention", courses=len(expired))
        return len(expired)

    async def publish_once(self) -> int:
        today = local_date(self._clock.now())
        state = (self._view.version, today)
        if state == self._built:
            return 0
        facts = list(self._view.facts.values())
        rules = Rules(self._calendar, today)
        started = time.monotonic()
        # In a thread: a national year takes seconds to build, and the consumer's heartbeats
        # and the input handlers must go on meanwhile.
        reports = await asyncio.to_thread(build_reports, facts, self._org, rules, self._retention)
        self.last_build_seconds = time.monotonic() - started
        out: list[Record] = []
        contents: dict[str, str] = {}
        for report in reports:
            # The report day alone does not make a report new.
            content = report.model_dump_json(exclude={"as_of"})
            if self._published.get(report.key) != content:
                contents[report.key] = content
                out.append((self.topic, None, report.key.encode(),
                            report.model_dump_json().encode(), [("type", REPORT_TYPE)]))
        if out:
            await self._producer.send_records(out)
            self._published.update(contents)
        self.latest = {r.key: r for r in reports}
        self._built = state
        self.rounds += 1
        log.info("reports_built", courses=len(facts), reports=len(reports), published=len(out),
                 seconds=round(self.last_build_seconds, 3))
        return len(out)
