"""The timer loop prepares the steps of courses due soon; a prepared step is used only while it
still follows from the course's current plan."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.handlers import SchedulerHandlers
from services.contact_scheduler.reminders import ReminderTimers
from services.contact_scheduler.steps import CourseSteps
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import Event, NotificationRequested, decode_event, encode_event
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import FakeProducer, Record
from tests.unit.test_contact_rules import RULES, consent, started

TOPICS = Topics("t-")
START = date(2026, 11, 23)  # a Monday: the start call's first reminder is at 08:30 that day
MOMENT = datetime(2026, 11, 23, 8, 30, tzinfo=COPENHAGEN)


def _handlers(clock: ManualClock) -> tuple[SchedulerHandlers, FakeProducer]:
    producer = FakeProducer()
    plans: ChangelogTable[CoursePlan] = ChangelogTable(
        TOPICS.scheduler_state, {}, producer,
        encode=lambda p: p.model_dump_json().encode(), decode=CoursePlan.model_validate_json)
    plans.ready.set()
    return SchedulerHandlers(CourseSteps(TOPICS, producer, plans, RULES, clock)), producer


async def _deliver(handlers: SchedulerHandlers, topic: str, event: Event) -> None:
    await handlers.on_event(Record(topic, encode_event(event), b"c1", partition=0))


def _requests(producer: FakeProducer) -> list[NotificationRequested]:
    return [e for s in producer.on(TOPICS.notifications_requested)
            if isinstance(e := decode_event(s.value or b""), NotificationRequested)]


async def _prepared_then(shift: timedelta, between: Event | None = None,
                         ) -> list[NotificationRequested]:
    clock = ManualClock(datetime(2026, 11, 23, 0, 0, tzinfo=COPENHAGEN))
    handlers, producer = _handlers(clock)
    timers = ReminderTimers(handlers.steps)
    await _deliver(handlers, TOPICS.consents, consent(True))
    await _deliver(handlers, TOPICS.courses, started(START))
    clock.at = MOMENT - timedelta(minutes=5)
    await timers.tick()
    assert timers.prepared == 1
    if between is not None:
        await _deliver(handlers, TOPICS.consents, between)
    clock.at = MOMENT + shift
    await timers.tick()
    return _requests(producer)


def test_a_prepared_reminder_goes_out_at_its_moment_as_prepared() -> None:
    sent = asyncio.run(_prepared_then(timedelta(seconds=1)))
    assert sorted(r.kind for r in sent) == ["contact_reminder", "leader_call_coming"]
    assert {r.occurred_at for r in sent} == {MOMENT} and not any(r.late for r in sent)


def test_a_consent_withdrawn_after_preparation_changes_what_is_sent() -> None:
    withdrawn = consent(False, at=MOMENT - timedelta(minutes=2))
    sent = asyncio.run(_prepared_then(timedelta(seconds=1), between=withdrawn))
    assert [r.kind for r in sent] == ["consent_discussion_reminder"]
    assert all(r.recipient_role == "psychologist" for r in sent)


def test_a_prepared_step_is_not_used_when_the_moment_passed_long_ago() -> None:
    sent = asyncio.run(_prepared_then(timedelta(hours=2)))
    assert sorted(r.kind for r in sent) == ["contact_reminder", "leader_call_coming"]
    assert all(r.late and r.occurred_at == MOMENT + timedelta(hours=2) for r in sent)


def test_each_reminder_fires_once_across_ticks() -> None:
    async def scenario() -> int:
        clock = ManualClock(MOMENT - timedelta(hours=8))
        handlers, producer = _handlers(clock)
        timers = ReminderTimers(handlers.steps)
        await _deliver(handlers, TOPICS.consents, consent(True))
        await _deliver(handlers, TOPICS.courses, started(START))
        for minutes in range(-20, 20, 2):
            clock.at = MOMENT + timedelta(minutes=minutes)
            await timers.tick()
        return len(_requests(producer))

    assert asyncio.run(scenario()) == 2


def test_events_of_one_course_in_one_batch_build_on_each_other() -> None:
    async def scenario() -> tuple[CoursePlan | None, list[str], int]:
        clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN))
        handlers, producer = _handlers(clock)
        withdrawn = consent(False, at=datetime(2026, 11, 23, 6, 0, tzinfo=COPENHAGEN))
        await handlers.on_events([
            Record(TOPICS.consents, encode_event(consent(True)), b"c1", partition=0),
            Record(TOPICS.courses, encode_event(started(START)), b"c1", partition=0, offset=1),
            Record(TOPICS.consents, encode_event(withdrawn), b"c1", partition=0, offset=2)])
        kinds = [(s.headers.get("type") or "") for s in producer.on(TOPICS.contact_points)]
        plans = len(producer.on(TOPICS.scheduler_state))
        return handlers.steps.plans.get("c1"), kinds, plans

    plan, kinds, plans = asyncio.run(scenario())
    assert plan is not None and plan.points["start_call"].state == "blocked_no_consent"
    assert kinds == ["contact_point.scheduled", "contact_point.blocked"]
    assert plans == 1  # one plan record for the batch: the last


def test_the_timer_loop_wakes_at_the_next_moment() -> None:
    from shared.clock import ScaledClock, SystemClock, sleep_until

    system = SystemClock()
    soon = system.now() + timedelta(seconds=0.2)
    assert 0.1 < sleep_until(system, soon, 0.5) <= 0.2
    assert sleep_until(system, soon - timedelta(hours=1), 0.5) == 0.005
    assert sleep_until(system, None, 0.5) == 0.5
    fast = ScaledClock(datetime(2026, 11, 23, 8, 0, tzinfo=COPENHAGEN), speed=3600)
    assert sleep_until(fast, MOMENT, 5.0) <= 0.5  # half an hour of clock time in half a second
    assert sleep_until(ManualClock(MOMENT), MOMENT, 0.5) == 0.5


def test_an_event_the_rules_cannot_apply_goes_to_the_dlq_and_the_batch_goes_on() -> None:
    class Failing:
        """The real rules, except that they break on course c-bad."""

        policy = RULES.policy

        def on_event(self, plan: CoursePlan, event: Event, now: datetime) -> object:
            if event.course_id == "c-bad":
                raise ValueError("no rule for this")
            return RULES.on_event(plan, event, now)

    async def scenario() -> tuple[FakeProducer, SchedulerHandlers]:
        handlers, producer = _handlers(ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=COPENHAGEN)))
        handlers.steps.planner = Failing()  # type: ignore[assignment]
        bad = started(START).model_copy(update={"course_id": "c-bad"})
        await handlers.on_events([
            Record(TOPICS.courses, encode_event(bad), b"c-bad", partition=0),
            Record(TOPICS.courses, encode_event(started(START)), b"c1", partition=0, offset=1)])
        return producer, handlers

    producer, handlers = asyncio.run(scenario())
    dead = producer.on(TOPICS.dlq("courses"))
    assert len(dead) == 1 and dead[0].key == "c-bad"
    assert "rules failed: ValueError: no rule for this" in dead[0].headers["dlq.reason"]
    assert handlers.steps.plans.get("c1") is not None and handlers.steps.plans.get("c-bad") is None
