"""Wiring of the reporting service: two subscribers, the facts table, the global view of the
facts and the report publisher."""

from __future__ import annotations

import asyncio

from services.reporting.adapters.facts_view import GlobalFacts
from services.reporting.adapters.publisher import ReportPublisher
from services.reporting.config import ReportingSettings
from services.reporting.domain.facts import CourseFacts
from services.reporting.handlers import ReportingHandlers
from shared.clock import Clock, clock_from_env
from shared.logging import configure_logging
from shared.ops import ServiceApp, run
from shared.retention import roll_segments
from shared.service import ServiceShell
from shared.settings import KafkaSettings
from shared.telemetry import configure_tracing
from shared.topics import SPECS, RetentionSettings

INTAKE_GROUP = "reporting-intake"
FACTS_GROUP = "reporting"


class ReportingService(ServiceShell):
    def __init__(self, settings: KafkaSettings, reporting: ReportingSettings | None = None,
                 clock: Clock | None = None, retention: RetentionSettings | None = None) -> None:
        super().__init__("reporting", settings)
        topics = self.topics
        self.retention = retention or RetentionSettings()
        self.reporting = reporting or ReportingSettings()
        self.org = self.reporting.load_org_units()
        self.facts = self.table(topics.reporting_facts, lambda f: f.model_dump_json().encode(),
                                CourseFacts.model_validate_json)
        self.handlers = ReportingHandlers(topics, self.producer, self.facts, self.org.lookup())
        self.view = GlobalFacts(topics.reporting_facts, self.kafka_kwargs)
        self.publisher = ReportPublisher(
            topics.reports, self.producer, self.view, self.facts, self.org,
            clock or clock_from_env(), self.reporting.retention, self.reporting.publish_seconds)
        self.web_task: asyncio.Task[None] | None = None
        batch = self.reporting.batch_size
        self.subscribe(topics.referrals, group=INTAKE_GROUP, handle=self.handlers.on_referrals,
                       batch_size=batch)
        self.subscribe(topics.courses, topics.sessions, topics.contact_points, topics.consents,
                       topics.reporting_referral_facts, group=FACTS_GROUP, table=self.facts,
                       handle=self.handlers.on_course_events, batch_size=batch)
        # The facts of a course cancelled at an erasure are replaced by a mark; the old record
        # is compacted away within the bound only once its segment has closed.
        self.timer(self._roll_facts)

    async def _roll_facts(self) -> None:
        partitions = next(s.partitions for s in SPECS if s.name == "reporting.course-facts")
        await roll_segments(self.producer, self.topics.reporting_facts, partitions,
                            self.retention.personal_segment_ms / 1000)

    def health(self) -> dict[str, object]:
        return {"ok": self.facts.ready.is_set(), "partitions": sorted(self.facts.owned),
                "courses": len(self.facts), "courses_in_view": len(self.view.facts),
                "report_rounds": self.publisher.rounds}

    async def open_adapters(self) -> None:
        await self.view.start()
        await self.publisher.start()

    async def close_adapters(self) -> None:
        await self.publisher.stop()
        await self.view.stop()


async def serve_web(service: ReportingService) -> None:
    """The reports page on LEDERKONTAKT_REPORTING_WEB_PORT, when set."""
    import uvicorn

    from services.reporting.web import create_web_app

    port = service.reporting.web_port
    if port is None:
        return
    config = uvicorn.Config(create_web_app(lambda: service.publisher.latest),
                            host=service.reporting.web_host, port=port, log_level="warning")
    service.web_task = asyncio.create_task(uvicorn.Server(config).serve(), name="reports-web")


def create_app() -> ServiceApp:
    """`python -m services.reporting.app`."""
    configure_logging()
    configure_tracing("reporting")
    service = ReportingService(KafkaSettings())
    app = service.app()

    # A coroutine function, not a lambda returning a coroutine: FastStream awaits only the
    # former, and would drop the latter unawaited (the page would never be served).
    async def start_web() -> None:
        await serve_web(service)

    app.after_startup(start_web)
    return app


if __name__ == "__main__":
    run(create_app(), "reporting", 9104)
