"""Wiring of the contact scheduler: one subscriber over the course topics, the plan table, timers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.handlers import SchedulerHandlers
from shared.background import Background
from shared.calendar import WorkingDayCalendar
from shared.clock import Clock, clock_from_env
from shared.kafka import EventProducer, consume, make_broker
from shared.logging import configure_logging
from shared.ops import run, service_app
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, check_partitions, listener_for
from shared.telemetry import configure_tracing
from shared.topics import Topics

GROUP = "contact-scheduler"


class SchedulerService:
    def __init__(self, settings: KafkaSettings, clock: Clock, policy: ContactPolicy | None = None,
                 tick_interval: float = 0.5, batch_size: int = 500) -> None:
        self.topics = Topics(settings.topic_prefix)
        kwargs = settings.aiokafka_kwargs()
        self.producer = EventProducer(kwargs)
        self.plans: ChangelogTable[CoursePlan] = ChangelogTable(
            self.topics.scheduler_state, kwargs, self.producer,
            encode=lambda p: p.model_dump_json().encode(), decode=CoursePlan.model_validate_json,
            inputs=[self.topics.courses, self.topics.sessions, self.topics.consents])
        self._kafka_kwargs = kwargs
        self.handlers = SchedulerHandlers(self.topics, self.producer, self.plans,
                                          ContactPlanner(policy or ContactPolicy(), WorkingDayCalendar()),
                                          clock)
        self.tick_interval = tick_interval
        self._timers = Background(lambda: self.handlers.run_timers(self.tick_interval))
        self.broker = make_broker(settings)

        consume(self.broker, self.topics.courses, self.topics.sessions, self.topics.consents,
                group_id=f"{settings.topic_prefix}{GROUP}", listener=listener_for(self.plans),
                service="contact-scheduler", handle=self.handlers.on_events,
                batch_size=batch_size)

    def health(self) -> dict[str, object]:
        return {"ok": self.plans.ready.is_set(), "partitions": sorted(self.plans.owned),
                "courses": len(self.plans), "notifications_requested": self.handlers.notifications_requested}

    async def start_timers(self) -> None:
        await self._timers.start()

    async def stop_timers(self) -> None:
        await self._timers.stop()

    async def open(self) -> None:
        await check_partitions(self._kafka_kwargs, [self.plans])
        await self.producer.start()

    async def start(self) -> None:
        await self.open()
        await self.broker.start()
        await self.start_timers()

    async def stop(self) -> None:
        # Timers stop first: a reminder must not be fired after its partition is handed over.
        await self.stop_timers()
        await self.broker.stop()
        await self.producer.stop()


def create_app() -> AsgiFastStream:
    configure_logging()
    configure_tracing("contact-scheduler")
    service = SchedulerService(KafkaSettings(), clock_from_env())
    app = service_app("contact-scheduler", service.broker, service.health)
    app.on_startup(service.open)
    app.after_startup(service.start_timers)
    app.on_shutdown(service.stop_timers)
    app.after_shutdown(service.producer.stop)
    return app


if __name__ == "__main__":
    run(create_app(), "contact-scheduler", 9102)
