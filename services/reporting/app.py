"""Wiring of the reporting service: two subscribers, the facts table, the global view of the
facts and the report publisher."""

from __future__ import annotations

import asyncio

from faststream.asgi import AsgiFastStream

from services.reporting.adapters.facts_view import GlobalFacts
from services.reporting.adapters.publisher import ReportPublisher
from services.reporting.config import ReportingSettings
from services.reporting.domain.facts import CourseFacts
from services.reporting.handlers import ReportingHandlers
from shared.clock import Clock, clock_from_env
from shared.kafka import EventProducer, consume, make_broker
from shared.logging import configure_logging
from shared.ops import run, service_app
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, listener_for
from shared.telemetry import configure_tracing
from shared.topics import Topics

INTAKE_GROUP = "reporting-intake"
FACTS_GROUP = "reporting"


class ReportingService:
    def __init__(self, settings: KafkaSettings, reporting: ReportingSettings | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.reporting = reporting or ReportingSettings()
        self.topics = Topics(settings.topic_prefix)
        self.org = self.reporting.load_org_units()
        kwargs = settings.aiokafka_kwargs()
        self.producer = EventProducer(kwargs)
        self.facts: ChangelogTable[CourseFacts] = ChangelogTable(
            self.topics.reporting_facts, kwargs, self.producer,
            encode=lambda f: f.model_dump_json().encode(),
            decode=CourseFacts.model_validate_json)
        self.handlers = ReportingHandlers(self.topics, self.producer, self.facts,
                                          self.org.lookup())
        self.view = GlobalFacts(self.topics.reporting_facts, kwargs)
        self.publisher = ReportPublisher(
            self.topics.reports, self.producer, self.view, self.facts, self.org,
            clock or clock_from_env(), self.reporting.retention, self.reporting.publish_seconds)
        self.web_task: asyncio.Task[None] | None = None
        self.broker = make_broker(settings)
        batch = self.reporting.batch_size
        consume(self.broker, self.topics.referrals,
                group_id=f"{settings.topic_prefix}{INTAKE_GROUP}", listener=None,
                service="reporting", handle=self.handlers.on_referrals, batch_size=batch)
        consume(self.broker, self.topics.courses, self.topics.sessions,
                self.topics.contact_points, self.topics.consents,
                self.topics.reporting_referral_facts,
                group_id=f"{settings.topic_prefix}{FACTS_GROUP}",
                listener=listener_for(self.facts), service="reporting",
                handle=self.handlers.on_course_events, batch_size=batch)

    def health(self) -> dict[str, object]:
        return {"ok": self.facts.ready.is_set(), "partitions": sorted(self.facts.owned),
                "courses": len(self.facts), "courses_in_view": len(self.view.facts),
                "report_rounds": self.publisher.rounds}

    async def start(self) -> None:
        await self.producer.start()
        await self.view.start()
        await self.publisher.start()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.publisher.stop()
        await self.view.stop()
        await self.producer.stop()


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


def create_app() -> AsgiFastStream:
    """`python -m services.reporting.app`."""
    configure_logging()
    configure_tracing("reporting")
    service = ReportingService(KafkaSettings())
    app = service_app("reporting", service.broker, service.health)
    app.on_startup(service.producer.start)
    app.on_startup(service.view.start)
    app.on_startup(service.publisher.start)

    # A coroutine function, not a lambda returning a coroutine: FastStream awaits only the
    # former, and would drop the latter unawaited (the page would never be served).
    async def start_web() -> None:
        await serve_web(service)

    app.after_startup(start_web)
    app.after_shutdown(service.publisher.stop)
    app.after_shutdown(service.view.stop)
    app.after_shutdown(service.producer.stop)
    return app


if __name__ == "__main__":
    run(create_app(), "reporting", 9104)
