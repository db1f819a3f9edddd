"""Wiring of the referral service: one broker, two subscribers, their state tables."""

from __future__ import annotations

from typing import cast

from faststream.asgi import AsgiFastStream

from services.referral.domain.intake import IntakeRecord
from services.referral.handlers import ReferralHandlers
from shared.clock import Clock, SystemClock, clock_from_env
from shared.events import ConsentRecorded, decode_event, encode_event
from shared.kafka import EventProducer, consume, make_broker
from shared.logging import configure_logging
from shared.ops import run, service_app
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, check_partitions, listener_for
from shared.telemetry import configure_tracing
from shared.topics import Topics

INTAKE_GROUP = "referral"
CONSENT_GROUP = "referral-consent"


def _decode_consent(raw: bytes) -> ConsentRecorded:
    return cast(ConsentRecorded, decode_event(raw, (ConsentRecorded,)))


class ReferralService:
    def __init__(self, settings: KafkaSettings, batch_size: int = 500,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        kwargs = settings.aiokafka_kwargs()
        self.producer = EventProducer(kwargs)
        self.intake: ChangelogTable[IntakeRecord] = ChangelogTable(
            self.topics.referral_dedup, kwargs, self.producer,
            encode=lambda r: r.model_dump_json().encode(),
            decode=IntakeRecord.model_validate_json, inputs=[self.topics.referrals])
        self.consents: ChangelogTable[ConsentRecorded] = ChangelogTable(
            self.topics.consents, kwargs, self.producer, encode=encode_event,
            decode=_decode_consent, inputs=[self.topics.courses, self.topics.sessions])
        self.handlers = ReferralHandlers(self.topics, self.producer, self.intake, self.consents,
                                         clock or SystemClock())
        self.broker = make_broker(settings)

        consume(self.broker, self.topics.referrals,
                group_id=f"{settings.topic_prefix}{INTAKE_GROUP}",
                listener=listener_for(self.intake), service="referral",
                handle=self.handlers.on_referrals, batch_size=batch_size)
        consume(self.broker, self.topics.courses, self.topics.sessions,
                group_id=f"{settings.topic_prefix}{CONSENT_GROUP}",
                listener=listener_for(self.consents), service="referral",
                handle=self.handlers.on_courses_and_sessions, batch_size=batch_size)

    def health(self) -> dict[str, object]:
        return {"ok": self.intake.ready.is_set() and self.consents.ready.is_set(),
                "partitions": sorted(self.intake.owned), "referrals_known": len(self.intake),
                "courses_with_consent": len(self.consents)}

    async def open(self) -> None:
        await check_partitions(self.settings.aiokafka_kwargs(), [self.intake, self.consents])
        await self.producer.start()

    async def start(self) -> None:
        await self.open()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.producer.stop()


def create_app() -> AsgiFastStream:
    """`faststream run --factory services.referral.app:create_app`, or `python -m` this module."""
    configure_logging()
    configure_tracing("referral")
    service = ReferralService(KafkaSettings(), clock=clock_from_env())
    app = service_app("referral", service.broker, service.health)
    app.on_startup(service.open)
    app.after_shutdown(service.producer.stop)
    return app


if __name__ == "__main__":
    run(create_app(), "referral", 9101)
