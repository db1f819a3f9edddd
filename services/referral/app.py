"""Wiring of the referral service: one broker, two subscribers, their state tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, cast

from services.referral.config import ReferralSettings
from services.referral.domain.intake import IntakeRecord
from services.referral.handlers import ReferralHandlers
from shared.clock import Clock, SystemClock, clock_from_env
from shared.events import ConsentRecorded, Person, PersonUpserted, decode_event, encode_event
from shared.logging import configure_logging, get_logger
from shared.ops import ServiceApp, run
from shared.reader import reading, to_end
from shared.retention import ClosedCourseSweep, roll_segments
from shared.service import ServiceShell
from shared.settings import KafkaSettings
from shared.telemetry import configure_tracing
from shared.timers import tick_forever
from shared.topics import SPECS, RetentionSettings
from shared.views import GlobalView

INTAKE_GROUP = "referral"
CONSENT_GROUP = "referral-consent"
ERASURE_GROUP = "referral-erasure"
# How often the referral service looks whether its consents table was rebuilt since it last
# gave the records without members theirs.
MEMBERS_LOOK_SECONDS = 5.0


def _decode_consent(raw: bytes) -> ConsentRecorded:
    return cast(ConsentRecorded, decode_event(raw, (ConsentRecorded,)))


def _closed_at(raw: bytes) -> datetime | None:
    return _decode_consent(raw).closed_at


def _person(raw: bytes) -> Person | None:
    event = decode_event(raw)
    return event.person if isinstance(event, PersonUpserted) else None


class ReferralService(ServiceShell):
    def __init__(self, settings: KafkaSettings, batch_size: int = 500,
                 clock: Clock | None = None,
                 referral_settings: ReferralSettings | None = None,
                 retention: RetentionSettings | None = None) -> None:
        super().__init__("referral", settings)
        self.retention = retention or RetentionSettings()
        own = referral_settings or ReferralSettings()
        if own.uses_development_key:
            get_logger("referral").warning(
                "person_id_key_not_set",
                detail="person ids use the development key; set LEDERKONTAKT_PERSON_ID_KEY")
        if own.staff_file is None:
            get_logger("referral").warning(
                "staff_directory_not_set",
                detail="psychologists and team leads are taken as each referral names them; "
                       "set LEDERKONTAKT_STAFF_FILE")
        topics, kwargs = self.topics, self.kafka_kwargs
        self.intake = self.table(topics.referral_dedup, lambda r: r.model_dump_json().encode(),
                                 IntakeRecord.model_validate_json, inputs=[topics.referrals])
        self.consents = self.table(topics.consents, encode_event, _decode_consent,
                                   inputs=[topics.courses, topics.sessions])
        # Its own output read back: a referral that re-names staff keeps what they chose.
        self.people: GlobalView[Person] = GlobalView(topics.people, kwargs, _person, self.view_ends)
        self.erased: GlobalView[bool] = GlobalView(topics.erasures, kwargs, lambda raw: True,
                                                   self.view_ends)
        self.handlers = ReferralHandlers(topics, self.producer, self.intake, self.consents,
                                         clock or SystemClock(), self.people, id_key=own.id_key,
                                         staff=own.staff(), erased=self.erased)
        self.subscribe(topics.referrals, group=INTAKE_GROUP, table=self.intake,
                       handle=self.handlers.on_referrals, batch_size=batch_size)
        self.subscribe(topics.courses, topics.sessions, group=CONSENT_GROUP, table=self.consents,
                       handle=self.handlers.on_courses_and_sessions, batch_size=batch_size)
        # `people erase` writes only `erasures`; the tombstone on `people` is written here.
        self.subscribe(topics.erasures, group=ERASURE_GROUP, handle=self.handlers.on_erasures,
                       batch_size=batch_size)
        self.timer(self._roll_people)
        self._sweep_closed_courses(clock or SystemClock())
        # Records written before the members were kept on them get them (after each rebuild).
        self.timer(lambda: tick_forever(self._back_fill_members, lambda: MEMBERS_LOOK_SECONDS,
                                        "members_back_fill_failed", get_logger("referral")))

    def _sweep_closed_courses(self, clock: Clock) -> None:
        """The consent records, and the dedup records, of courses closed longer ago than the
        retention setting are tombstoned."""
        keep, every = self.retention.ended_course_keep, self.retention.ended_course_sweep_seconds
        self.retention_sweep = ClosedCourseSweep(self.consents, lambda c: c.closed_at, clock,
                                                 keep, lock=self.handlers.consent_lock)
        self.timer(lambda: self.retention_sweep.run(every))
        # A dedup record's course may be in any partition of `consents`: the moment it closed
        # comes from a whole-topic view.
        self.closed_courses: GlobalView[datetime] = GlobalView(
            self.topics.consents, self.kafka_kwargs, _closed_at, self.view_ends)
        self.dedup_sweep = ClosedCourseSweep(self.intake, lambda r: r.closed_at, clock, keep,
                                             lock=self.handlers.intake_lock)
        self.timer(lambda: tick_forever(self._dedup_retention, lambda: every,
                                        "retention_sweep_failed", get_logger("referral")))

    def health(self) -> dict[str, object]:
        return {"ok": self.intake.ready.is_set() and self.consents.ready.is_set(),
                "partitions": sorted(self.intake.owned), "referrals_known": len(self.intake),
                "courses_with_consent": len(self.consents), "people_known": len(self.people)}

    async def open_adapters(self) -> None:
        await self.people.start()
        await self.erased.start()
        await self.closed_courses.start()

    async def close_adapters(self) -> None:
        await self.people.stop()
        await self.erased.stop()
        await self.closed_courses.stop()

    async def _dedup_retention(self) -> None:
        if not self.intake.ready.is_set():
            return
        await self.closed_courses.catch_up()
        await self.handlers.stamp_closed_courses(self.closed_courses.get)
        await self.dedup_sweep.sweep()

    async def _back_fill_members(self) -> None:
        await self.handlers.back_fill_members(self._course_history)

    async def _course_history(self, partitions: list[int]) -> AsyncIterator[Sequence[Any]]:
        async with reading(self.kafka_kwargs, self.topics.courses, self.topics.sessions,
                           partitions=partitions) as consumer:
            async for records in to_end(consumer, max_records=10_000):
                yield records

    async def _roll_people(self) -> None:
        partitions = next(s.partitions for s in SPECS if s.name == "people")
        await roll_segments(self.producer, self.topics.people, partitions,
                            self.retention.personal_segment_ms / 1000)


def create_app() -> ServiceApp:
    """`faststream run --factory services.referral.app:create_app`, or `python -m` this module."""
    configure_logging()
    configure_tracing("referral")
    own = ReferralSettings()
    reason = own.refusal()
    if reason is not None:
        raise SystemExit(f"referral: refusing to start: {reason}")
    try:
        own.staff()
    except (OSError, ValueError) as exc:
        raise SystemExit(f"referral: refusing to start: the staff directory "
                         f"{own.staff_file} cannot be read: {exc}") from None
    return ReferralService(KafkaSettings(), clock=clock_from_env(), referral_settings=own).app()


if __name__ == "__main__":
    run(create_app(), "referral", 9101)
