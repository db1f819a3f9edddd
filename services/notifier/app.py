"""Wiring of the notifier: views of people and consents, the ledger, SMTP and SMS."""

from __future__ import annotations

from typing import Any

from services.notifier.adapters.plans import open_points_view
from services.notifier.adapters.sms import GatewayApiSms
from services.notifier.adapters.smtp import SmtpSender
from services.notifier.adapters.views import (
    GlobalView,
    consents_view,
    course_closed,
    course_consent,
    course_members,
)
from services.notifier.config import NotifierSettings
from services.notifier.digests import DigestSender
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from services.notifier.ports import SmsProvider
from services.notifier.retention import LedgerRetention
from shared.calendar import WorkingDayCalendar
from shared.clock import Clock, clock_from_env
from shared.events import Person, PersonUpserted, decode_event
from shared.logging import configure_logging
from shared.ops import ServiceApp, run
from shared.service import ServiceShell
from shared.settings import KafkaSettings
from shared.telemetry import configure_tracing
from shared.topics import RetentionSettings

GROUP = "notifier"


def _person(raw: bytes) -> Person | None:
    event = decode_event(raw)
    return event.person if isinstance(event, PersonUpserted) else None


class NotifierService(ServiceShell):
    def __init__(self, settings: KafkaSettings, notifier: NotifierSettings, clock: Clock,
                 sms: SmsProvider | None = None,
                 retention: RetentionSettings | None = None) -> None:
        super().__init__("notifier", settings)
        topics, kwargs = self.topics, self.kafka_kwargs
        self.notifier = notifier
        self.ledger = self.table(topics.notifier_ledger, lambda e: e.model_dump_json().encode(),
                                 LedgerEntry.model_validate_json,
                                 inputs=[topics.notifications_requested])
        ends = self.view_ends
        self.people: GlobalView[Person] = GlobalView(topics.people, kwargs, _person, ends)
        # Each course's consent and members, from the one record the referral service keeps.
        self.course_records = consents_view(topics.consents, kwargs, ends)
        self.consents = course_consent(self.course_records)
        self.members = course_members(self.course_records)
        self.erased: GlobalView[bool] = GlobalView(topics.erasures, kwargs, lambda raw: True, ends)
        # Every course's open contact points, for the morning digests.
        self.plans = open_points_view(topics.open_points, kwargs, ends)
        self.smtp = SmtpSender(notifier.smtp())
        self._sms = sms
        self._clock = clock
        self.handlers: NotifierHandlers | None = None
        self.digests: DigestSender | None = None
        self.timer(self._run_timers)
        self.timer(self._run_digests)
        # Settled ledger entries go the retention's `ended_course_days` after their course
        # closed; the moment comes from the course's consent record.
        self.retention = retention or RetentionSettings()
        self.closed_courses = course_closed(self.course_records)
        self.ledger_retention = LedgerRetention(self.ledger, self.closed_courses, clock,
                                                self.retention.ended_course_keep)
        self.timer(lambda: self.ledger_retention.run(self.retention.ended_course_sweep_seconds))
        # Request by request, up to `concurrency` at once, the next poll taken up while earlier
        # sends finish (a batch would wait for its slowest send). Fenced: a member dropped from
        # the group must not send what another member sends.
        self.subscribe_pipelined(topics.notifications_requested, group=GROUP, table=self.ledger,
                                 handle=self.on_record, limit=notifier.concurrency,
                                 batch_size=notifier.batch_size, fenced=True)

    async def on_record(self, record: Any) -> None:
        assert self.handlers is not None, "open() makes the handlers before the broker starts"
        await self.handlers.on_record(record)

    def health(self) -> dict[str, object]:
        return {"ok": self.ledger.ready.is_set(), "partitions": sorted(self.ledger.owned),
                "ledger_entries": len(self.ledger), "people": len(self.people),
                "consents": len(self.consents), "courses": len(self.members),
                "courses_with_open_points": len(self.plans)}

    async def open_adapters(self) -> None:
        """The views are complete before any request is read."""
        await self.people.start()
        await self.course_records.start()
        await self.erased.start()
        await self.plans.start()
        sms = self._sms or GatewayApiSms(self.notifier.sms())
        self.handlers = NotifierHandlers(self.topics, self.producer, self.ledger, self.people,
                                         self.consents, self.smtp, sms, self._clock, self.notifier,
                                         self.members, erased=self.erased)
        self.digests = DigestSender(self.handlers, self.plans, WorkingDayCalendar(),
                                    self.notifier.digest_at)
        self.handlers.digest_content = self.digests.content

    async def _run_digests(self) -> None:
        assert self.digests is not None
        await self.digests.run()

    async def _run_timers(self) -> None:
        assert self.handlers is not None
        await self.handlers.run_timers()

    async def close_adapters(self) -> None:
        await self.people.stop()
        await self.course_records.stop()
        await self.erased.stop()
        await self.plans.stop()
        await self.smtp.close()
        if self.handlers is not None:
            await self.handlers.sms.close()


def create_app() -> ServiceApp:
    configure_logging()
    configure_tracing("notifier")
    return NotifierService(KafkaSettings(), NotifierSettings(), clock_from_env()).app()


if __name__ == "__main__":
    run(create_app(), "notifier", 9103)
