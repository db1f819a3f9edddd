"""The state of a course closed longer ago than the retention setting is tombstoned by the
service that keeps it; an open course's, or one closed more recently, stays."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.handlers import SchedulerHandlers
from services.contact_scheduler.steps import CourseSteps
from services.referral.domain.intake import IntakeRecord
from services.referral.handlers import ReferralHandlers
from shared.calendar import WorkingDayCalendar
from shared.clock import ManualClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    encode_event,
)
from shared.retention import ClosedCourseSweep, is_expired
from shared.state import ChangelogTable
from shared.topics import RetentionSettings, Topics
from tests.fakes import FakeProducer, Record, ready_table
from tests.samples import AT

TOPICS = Topics("p-")
KEEP = timedelta(days=90)


def _plans(producer: FakeProducer) -> ChangelogTable[CoursePlan]:
    return ready_table("plans", producer, CoursePlan)


def test_only_a_course_closed_longer_ago_than_the_setting_is_expired() -> None:
    assert not is_expired(None, AT, KEEP)
    assert not is_expired(AT - KEEP, AT, KEEP)
    assert is_expired(AT - KEEP - timedelta(seconds=1), AT, KEEP)


def test_the_default_keeps_a_closed_course_for_ninety_days() -> None:
    assert RetentionSettings().ended_course_keep == timedelta(days=90)


def test_ending_or_cancelling_a_course_dates_its_plan_and_an_open_plan_is_not_closed() -> None:
    planner = ContactPlanner(ContactPolicy(), WorkingDayCalendar())
    started = planner.apply(CoursePlan(course_id="c-1"), CourseStarted(
        occurred_at=AT, course_id="c-1", referral_id="r-1", employee_id="e-1", leader_id="l-1",
        start_date=date(2026, 11, 26)), AT).plan
    assert started.closed_since is None
    later = AT + timedelta(days=3)
    ended = planner.apply(started, CourseEnded(occurred_at=later, course_id="c-1",
                                               end_date=date(2026, 11, 29)), later).plan
    cancelled = planner.apply(started, CourseCancelled(occurred_at=later, course_id="c-1"),
                              later).plan
    assert ended.closed_since == later and cancelled.closed_since == later


def test_a_plan_ended_before_closing_moments_were_recorded_counts_from_its_end_date() -> None:
    plan = CoursePlan(course_id="c-1", status="ended", end_date=date(2026, 1, 5))
    assert plan.closed_since == datetime(2026, 1, 5, tzinfo=AT.tzinfo)


def test_the_sweep_tombstones_expired_courses_on_their_partitions_and_keeps_the_rest() -> None:
    producer = FakeProducer()
    plans = _plans(producer)
    plans.remember([
        ("c-old", CoursePlan(course_id="c-old", status="ended", closed_at=AT - KEEP * 2), 3),
        ("c-recent", CoursePlan(course_id="c-recent", status="cancelled", closed_at=AT), 1),
        ("c-open", CoursePlan(course_id="c-open", status="open"), 2)])
    sweep = ClosedCourseSweep(plans, lambda p: p.closed_since, ManualClock(AT), KEEP)
    assert asyncio.run(sweep.sweep()) == 1
    [tombstone] = producer.on("plans")
    assert (tombstone.key, tombstone.value, tombstone.partition) == ("c-old", None, 3)
    assert plans.get("c-old") is None and len(plans) == 2
    assert asyncio.run(sweep.sweep()) == 0


def test_the_sweep_waits_while_the_table_is_being_rebuilt() -> None:
    producer = FakeProducer()
    plans = _plans(producer)
    plans.remember([("c-old", CoursePlan(course_id="c-old", status="ended",
                                         closed_at=AT - KEEP * 2), 0)])
    plans.ready.clear()
    sweep = ClosedCourseSweep(plans, lambda p: p.closed_since, ManualClock(AT), KEEP)
    assert asyncio.run(sweep.sweep()) == 0 and plans.get("c-old") is not None


def _referral_handlers(producer: FakeProducer, clock: ManualClock) -> ReferralHandlers:
    return ReferralHandlers(TOPICS, producer, ready_table("dedup", producer, IntakeRecord),
                            ready_table(TOPICS.consents, producer, ConsentRecorded,
                                        encode=encode_event), clock)


def test_the_consent_record_of_an_ended_course_is_dated_once_and_swept_after_the_setting() -> None:
    producer = FakeProducer()
    clock = ManualClock(AT)
    handlers = _referral_handlers(producer, clock)
    handlers.consents.remember([("c-1", ConsentRecorded(occurred_at=AT, course_id="c-1",
                                                        state=ConsentState()), 0)])
    ended = CourseEnded(occurred_at=AT, course_id="c-1", end_date=date(2026, 11, 26))
    record = Record(TOPICS.sessions, encode_event(ended), b"c-1", 0, 0)
    asyncio.run(handlers.on_courses_and_sessions([record, record]))
    recorded = handlers.consents.get("c-1")
    assert recorded is not None and recorded.closed_at == AT
    assert len(producer.on(TOPICS.consents)) == 1
    sweep = ClosedCourseSweep(handlers.consents, lambda c: c.closed_at, clock, KEEP,
                              lock=handlers.consent_lock)
    assert asyncio.run(sweep.sweep()) == 0
    clock.at = AT + KEEP + timedelta(minutes=1)
    assert asyncio.run(sweep.sweep()) == 1
    assert producer.on(TOPICS.consents)[-1].value is None


def test_the_scheduler_passes_over_a_tombstoned_consent_without_a_dlq_entry() -> None:
    producer = FakeProducer()
    handlers = SchedulerHandlers(CourseSteps(
        TOPICS, producer, _plans(producer), ContactPlanner(ContactPolicy(), WorkingDayCalendar()),
        ManualClock(AT)))
    asyncio.run(handlers.on_events([Record(TOPICS.consents, None, b"c-1", 0, 0)]))
    assert producer.sent == []


def test_a_withdrawn_referrals_dedup_record_is_dated_at_the_withdrawal() -> None:
    from services.referral.domain.intake import decide_intake
    from shared.events import ReferralWithdrawn
    from tests.samples import referral

    withdrawn = ReferralWithdrawn(occurred_at=AT, referral_id="r-1")
    first = decide_intake(None, withdrawn, AT).record
    assert first is not None and first.closed_at == AT
    opened = decide_intake(None, referral("r-1"), AT).record
    assert opened is not None and opened.closed_at is None
    later = AT + timedelta(days=2)
    cancelled = decide_intake(opened, withdrawn, later).record
    assert cancelled is not None and cancelled.closed_at == later


def test_a_dedup_record_takes_its_courses_closing_moment_and_goes_after_the_setting() -> None:
    producer = FakeProducer()
    clock = ManualClock(AT)
    handlers = _referral_handlers(producer, clock)
    handlers.intake.remember([
        ("r-ended", IntakeRecord(course_id="c-ended", status="open"), 2),
        ("r-live", IntakeRecord(course_id="c-live", status="open"), 1)])
    closed = {"c-ended": AT}
    assert asyncio.run(handlers.stamp_closed_courses(closed.get)) == 1
    ended = handlers.intake.get("r-ended")
    assert ended is not None and ended.closed_at == AT
    [stamp] = producer.on("dedup")
    assert (stamp.key, stamp.partition) == ("r-ended", 2)
    # Stamped once: the consent record may go first, the stamp stays.
    assert asyncio.run(handlers.stamp_closed_courses({}.get)) == 0
    sweep = ClosedCourseSweep(handlers.intake, lambda r: r.closed_at, clock, KEEP,
                              lock=handlers.intake_lock)
    assert asyncio.run(sweep.sweep()) == 0
    clock.at = AT + KEEP + timedelta(minutes=1)
    assert asyncio.run(sweep.sweep()) == 1
    assert producer.on("dedup")[-1].value is None and handlers.intake.get("r-ended") is None
    assert handlers.intake.get("r-live") is not None
