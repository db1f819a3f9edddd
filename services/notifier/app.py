"""Wiring of the notifier: views of people and consents, the ledger, SMTP and SMS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from faststream.asgi import AsgiFastStream

from services.notifier.adapters.plans import plans_view
from services.notifier.adapters.sms import GatewayApiSms
from services.notifier.adapters.smtp import SmtpSender
from services.notifier.adapters.views import GlobalView, MembershipView
from services.notifier.config import NotifierSettings
from services.notifier.digests import DigestSender
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from services.notifier.ports import SmsProvider
from shared.background import Background
from shared.calendar import WorkingDayCalendar
from shared.clock import Clock, clock_from_env
from shared.events import ConsentRecorded, ConsentState, Person, PersonUpserted, decode_event
from shared.kafka import EventProducer, consume, make_broker
from shared.logging import configure_logging
from shared.ops import run, service_app
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, check_partitions, listener_for
from shared.telemetry import configure_tracing
from shared.topics import Topics

GROUP = "notifier"


def _person(raw: bytes) -> Person | None:
    event = decode_event(raw)
    return event.person if isinstance(event, PersonUpserted) else None


def _consent(raw: bytes) -> ConsentState | None:
    return cast(ConsentRecorded, decode_event(raw, (ConsentRecorded,))).state


class NotifierService:
    def __init__(self, settings: KafkaSettings, notifier: NotifierSettings, clock: Clock,
                 sms: SmsProvider | None = None) -> None:
        self.topics = Topics(settings.topic_prefix)
        self.notifier = notifier
        kwargs = settings.aiokafka_kwargs()
        self.producer = EventProducer(kwargs)
        self.ledger: ChangelogTable[LedgerEntry] = ChangelogTable(
            self.topics.notifier_ledger, kwargs, self.producer,
            encode=lambda e: e.model_dump_json().encode(), decode=LedgerEntry.model_validate_json,
            inputs=[self.topics.notifications_requested])
        self._kafka_kwargs = kwargs
        self.people: GlobalView[Person] = GlobalView(self.topics.people, kwargs, _person)
        self.consents: GlobalView[ConsentState] = GlobalView(self.topics.consents, kwargs, _consent)
        self.members = MembershipView([self.topics.courses, self.topics.sessions], kwargs, clock)
        self.smtp = SmtpSender(notifier.smtp())
        self._sms = sms
        self.handlers: NotifierHandlers | None = None
        self._clock = clock
        self._timers = Background(self._run_timers)
        # Every course's open contact points, for the morning digests.
        self.plans = plans_view(self.topics.scheduler_state, kwargs)
        self.digests: DigestSender | None = None
        self._digest_loop = Background(self._run_digests)
        self.broker = make_broker(settings)

        consume(self.broker, self.topics.notifications_requested,
                group_id=f"{settings.topic_prefix}{GROUP}", listener=listener_for(self.ledger),
                service="notifier", handle=self.on_requests, batch_size=notifier.batch_size)

    async def on_requests(self, records: Sequence[Any]) -> None:
        assert self.handlers is not None, "open() makes the handlers before the broker starts"
        await self.handlers.on_requests(records)

    def health(self) -> dict[str, object]:
        return {"ok": self.ledger.ready.is_set(), "partitions": sorted(self.ledger.owned),
                "ledger_entries": len(self.ledger), "people": len(self.people),
                "consents": len(self.consents), "courses": len(self.members),
                "courses_with_open_points": len(self.plans)}

    async def open(self) -> None:
        """Producer, views and adapters; the views are complete before any request is read."""
        await check_partitions(self._kafka_kwargs, [self.ledger])
        await self.producer.start()
        await self.people.start()
        await self.consents.start()
        await self.members.start()
        await self.plans.start()
        sms = self._sms or GatewayApiSms(self.notifier.sms())
        self.handlers = NotifierHandlers(self.topics, self.producer, self.ledger, self.people,
                                         self.consents, self.smtp, sms, self._clock, self.notifier,
                                         self.members)
        self.digests = DigestSender(self.handlers, self.plans, WorkingDayCalendar(),
                                    self.notifier.digest_at)
        self.handlers.digest_content = self.digests.content

    async def start_timers(self) -> None:
        await self._timers.start()
        await self._digest_loop.start()

    async def stop_timers(self) -> None:
        await self._digest_loop.stop()
        await self._timers.stop()

    async def _run_digests(self) -> None:
        assert self.digests is not None
        await self.digests.run()

    async def _run_timers(self) -> None:
        assert self.handlers is not None
        await self.handlers.run_timers()

    async def close(self) -> None:
        await self.people.stop()
        await self.consents.stop()
        await self.members.stop()
        await self.plans.stop()
        await self.smtp.close()
        if self.handlers is not None:
            await self.handlers.sms.close()
        await self.producer.stop()

    async def start(self) -> None:
        await self.open()
        await self.broker.start()
        await self.start_timers()

    async def stop(self) -> None:
        await self.stop_timers()
        await self.broker.stop()
        await self.close()


def create_app() -> AsgiFastStream:
    configure_logging()
    configure_tracing("notifier")
    service = NotifierService(KafkaSettings(), NotifierSettings(), clock_from_env())
    app = service_app("notifier", service.broker, service.health)
    app.on_startup(service.open)
    app.after_startup(service.start_timers)
    app.on_shutdown(service.stop_timers)
    app.after_shutdown(service.close)
    return app


if __name__ == "__main__":
    run(create_app(), "notifier", 9103)
