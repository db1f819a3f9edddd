"""On the real broker: once a course has been closed longer than the retention setting, the
scheduler tombstones its plan (and its open points) and the referral service its consent
record (and its members); a live course keeps them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from services.contact_scheduler.app import SchedulerService
from services.referral.app import ReferralService
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import CourseEnded, CourseStarted, Event
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import RetentionSettings, Topics
from tests.integration.helpers import read_records, wait_for

pytestmark = pytest.mark.integration
MONDAY_7 = datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN)
RETENTION = RetentionSettings(ended_course_days=1, ended_course_sweep_seconds=0.2)


def _started(course_id: str) -> CourseStarted:
    return CourseStarted(occurred_at=MONDAY_7, course_id=course_id, referral_id=f"r-{course_id}",
                         employee_id=f"e-{course_id}", leader_id=f"l-{course_id}",
                         psychologist_id="psy-1", start_date=date(2026, 11, 23),
                         employee_consents_to_leader_contact=True, consent_stated_at=MONDAY_7)


async def _publish(kafka: KafkaSettings, topics: Topics, events: list[Event]) -> None:
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    try:
        await producer.publish_all([(topics.for_event(e), e) for e in events])
    finally:
        await producer.stop()


async def _last_values(kafka: KafkaSettings, topic: str) -> dict[str, bytes | None]:
    records = await read_records(kafka, topic, expect=10_000, timeout=3.0)
    return {r.key.decode(): r.value for r in records if r.key is not None}


async def test_a_course_ended_longer_ago_than_the_setting_loses_its_plan_and_consent(
    kafka: KafkaSettings, topics: Topics
) -> None:
    clock = ManualClock(MONDAY_7)
    scheduler = SchedulerService(kafka, clock, tick_interval=0.1, retention=RETENTION)
    referral = ReferralService(kafka, clock=clock, retention=RETENTION)
    await scheduler.start()
    await referral.start()
    try:
        await _publish(kafka, topics, [_started("c-ended"), _started("c-live")])
        await wait_for(lambda: {"c-ended", "c-live"} <= {k for k, _ in scheduler.plans.items()}
                       and {"c-ended", "c-live"} <= {k for k, _ in referral.consents.items()},
                       timeout=60)
        await _publish(kafka, topics, [CourseEnded(occurred_at=MONDAY_7, course_id="c-ended",
                                                   end_date=date(2026, 11, 23))])

        def closed() -> bool:
            plan, consent = scheduler.plans.get("c-ended"), referral.consents.get("c-ended")
            return plan is not None and plan.closed_since is not None \
                and consent is not None and consent.closed_at is not None
        await wait_for(closed, timeout=60)
        # Within the setting nothing goes; past it the ended course's state does.
        clock.at = MONDAY_7 + timedelta(hours=23)
        await wait_for(lambda: scheduler.retention.swept + referral.retention_sweep.swept == 0
                       and scheduler.plans.get("c-ended") is not None, timeout=5)
        clock.at = MONDAY_7 + timedelta(days=1, hours=1)
        await wait_for(lambda: scheduler.plans.get("c-ended") is None
                       and referral.consents.get("c-ended") is None, timeout=60)
    finally:
        await referral.stop()
        await scheduler.stop()
    assert scheduler.plans.get("c-live") is not None and referral.consents.get("c-live")
    plans = await _last_values(kafka, topics.scheduler_state)
    consents = await _last_values(kafka, topics.consents)
    assert plans["c-ended"] is None and consents["c-ended"] is None
    assert plans["c-live"] is not None and consents["c-live"] is not None
    listed = await _last_values(kafka, topics.open_points)
    # The ended course's end contact was never made: its open points go with its plan.
    assert listed["c-ended"] is None and listed["c-live"] is not None


async def test_the_dedup_record_of_a_referral_whose_course_ended_goes_after_the_setting(
    kafka: KafkaSettings, topics: Topics
) -> None:
    from services.referral.domain.intake import course_id_for
    from tests.samples import AT, referral

    clock = ManualClock(AT + timedelta(hours=1))
    service = ReferralService(kafka, clock=clock, retention=RETENTION)
    await service.start()
    ended = course_id_for("r-ret-ended")
    try:
        await _publish(kafka, topics, [referral("r-ret-ended"), referral("r-ret-live")])
        await wait_for(lambda: service.intake.get("r-ret-live") is not None
                       and service.consents.get(ended) is not None, timeout=60)
        await _publish(kafka, topics, [CourseEnded(occurred_at=clock.at, course_id=ended,
                                                   end_date=date(2026, 11, 26))])

        def stamped() -> bool:
            record = service.intake.get("r-ret-ended")
            return record is not None and record.closed_at is not None
        await wait_for(stamped, timeout=60)
        assert service.dedup_sweep.swept == 0
        clock.at = clock.at + timedelta(days=1, hours=1)
        await wait_for(lambda: service.intake.get("r-ret-ended") is None, timeout=60)
    finally:
        await service.stop()
    dedup = await _last_values(kafka, topics.referral_dedup)
    assert dedup["r-ret-ended"] is None and dedup["r-ret-live"] is not None
