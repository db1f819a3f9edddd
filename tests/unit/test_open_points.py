"""The scheduler keeps each course's open contact points on `contact-points.open`, by id and
date only, so the notifier builds the morning digests without the scheduler's state."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.handlers import SchedulerHandlers
from services.contact_scheduler.steps import CourseSteps
from shared.calendar import WorkingDayCalendar
from shared.clock import ManualClock
from shared.events import CourseCancelled, CourseStarted, Event, SessionHeld, encode_event
from shared.retention import ClosedCourseSweep
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import FakeProducer, Record
from tests.samples import AT

TOPICS = Topics("p-")


def _scheduler() -> tuple[SchedulerHandlers, FakeProducer]:
    producer = FakeProducer()
    plans: ChangelogTable[CoursePlan] = ChangelogTable(
        TOPICS.scheduler_state, {}, producer, encode=lambda p: p.model_dump_json().encode(),
        decode=CoursePlan.model_validate_json)
    plans.ready.set()
    steps = CourseSteps(TOPICS, producer, plans,
                        ContactPlanner(ContactPolicy(), WorkingDayCalendar()),
                        ManualClock(AT + timedelta(minutes=1)))
    return SchedulerHandlers(steps), producer


def _read(handlers: SchedulerHandlers, event: Event, topic: str) -> None:
    asyncio.run(handlers.on_events([Record(topic, encode_event(event), b"c-1", 0, 0)]))


def test_a_courses_open_points_are_listed_when_they_change_and_tombstoned_once_none_is() -> None:
    handlers, producer = _scheduler()
    _read(handlers, CourseStarted(occurred_at=AT, course_id="c-1", referral_id="r-1",
                                  employee_id="e-1", leader_id="l-1", psychologist_id="psy-1",
                                  start_date=date(2026, 11, 26)), TOPICS.courses)
    [listed] = producer.on(TOPICS.open_points)
    record = json.loads(listed.value or b"")
    assert listed.key == "c-1" and record["course_id"] == "c-1"
    assert [p["kind"] for p in record["points"]] == ["start_call"]
    # Nothing anyone wrote about the course but its points' ids, kinds and dates.
    assert set(record["points"][0]) == {"point_id", "kind", "due_from", "due_by", "blocked"}
    _read(handlers, SessionHeld(occurred_at=AT, course_id="c-1", session_id="s-1", at=AT),
          TOPICS.sessions)
    assert len(producer.on(TOPICS.open_points)) == 1  # no change, nothing written
    _read(handlers, CourseCancelled(occurred_at=AT, course_id="c-1"), TOPICS.courses)
    assert [r.value for r in producer.on(TOPICS.open_points)][1:] == [None]


def test_sweeping_a_closed_courses_plan_takes_its_open_points_with_it() -> None:
    handlers, _ = _scheduler()
    plans = handlers.steps.plans
    plans.remember([("c-1", CoursePlan(course_id="c-1", status="ended",
                                       closed_at=AT - timedelta(days=200)), 0)])
    swept: list[str] = []

    async def also(course_id: str) -> None:
        swept.append(course_id)

    sweep = ClosedCourseSweep(plans, lambda p: p.closed_since, ManualClock(AT),
                              timedelta(days=90), also=also)
    assert asyncio.run(sweep.sweep()) == 1
    assert swept == ["c-1"] and plans.get("c-1") is None
