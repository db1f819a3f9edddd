"""What the event handler and the reminder timers share: a course's step made into Kafka records,
written in the order that makes a crash harmless, counted, and its next reminder set.

Outputs are published before the plan is written to the changelog, and the input offset (or the
timer's own progress, which is the plan) moves only after both. A crash in between repeats the
step: the repeated notification requests carry the same deterministic notification id, so the
notifier's ledger sends each only once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.contact_scheduler.domain.plan import CoursePlan, open_points
from services.contact_scheduler.domain.rules import ContactPlanner, Step
from shared.catalogue import topic_of
from shared.clock import Clock
from shared.events import NotificationRequested
from shared.kafka import Publisher, Record, event_record
from shared.open_points import OpenPoints
from shared.ops import CONTACT_POINTS
from shared.state import ChangelogTable
from shared.timers import DurableTimers
from shared.topics import Topics


@dataclass
class EncodedStep:
    """A step made ready to write: its outputs and its plan as Kafka records."""

    course_id: str
    partition: int
    plan: CoursePlan
    outputs: list[Record]
    plan_record: Record
    notifications: int
    points: list[tuple[str, str]]  # (contact kind, state) of each contact-point change


def _next_reminder(plan: CoursePlan) -> datetime | None:
    return plan.next_fire_at


@dataclass
class CourseSteps:
    topics: Topics
    producer: Publisher
    plans: ChangelogTable[CoursePlan]
    planner: ContactPlanner
    clock: Clock
    # One course is never worked on by the event handler and the timer at the same time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Called with each batch once its outputs are acknowledged (benchmarks time it).
    on_published: Callable[[list[EncodedStep]], None] | None = None
    notifications_requested: int = 0
    timers: DurableTimers[CoursePlan] = field(init=False)

    def __post_init__(self) -> None:
        self.timers = DurableTimers(self.plans, _next_reminder)

    def encode(self, step: Step, partition: int) -> EncodedStep:
        outputs: list[Record] = []
        for event in step.outputs:
            topic, _, key, value, headers = event_record(self.topics.for_event(event), event)
            outputs.append((topic, self.producer.partition_for(topic, key), key, value, headers))
        plan = step.plan
        return EncodedStep(plan.course_id, partition, plan, outputs,
                           self.plans.record(plan.course_id, plan, partition),
                           sum(1 for e in step.outputs if isinstance(e, NotificationRequested)),
                           [(getattr(e, "kind", ""),
                             getattr(e, "type", "").removeprefix("contact_point."))
                            for e in step.outputs if topic_of(e) == "contact-points"])

    async def publish(self, batch: list[EncodedStep]) -> None:
        await self.producer.send_records([r for f in batch for r in f.outputs])
        if self.on_published is not None:
            self.on_published(batch)

    async def remember(self, batch: list[EncodedStep]) -> None:
        """The courses' open points, where they changed, then their plans: a crash between
        the two repeats the step, and the open points are written again."""
        listed = [r for f in batch if (r := self._listed(f.plan)) is not None]
        if listed:
            await self.producer.send_records(listed)
        await self.producer.send_records([f.plan_record for f in batch])
        self.plans.remember((f.course_id, f.plan, f.partition) for f in batch)

    def _listed(self, plan: CoursePlan) -> Record | None:
        """The course's record on `contact-points.open` if this plan changes its open points
        (the table still holds the course's previous plan); a tombstone once none is open."""
        now = open_points(plan)
        if now == open_points(self.plans.get(plan.course_id)):
            return None
        return self.open_points_record(plan.course_id, now)

    def open_points_record(self, course_id: str, points: OpenPoints | None) -> Record:
        topic, key = self.topics.open_points, course_id.encode()
        value = None if points is None else points.model_dump_json().encode()
        return (topic, self.producer.partition_for(topic, key), key, value, [])

    def counted(self, batch: list[EncodedStep]) -> None:
        points = Counter(p for f in batch for p in f.points)
        for (kind, state), n in points.items():
            CONTACT_POINTS.labels(kind, state).inc(n)
        self.notifications_requested += sum(f.notifications for f in batch)

    def schedule(self, batch: list[EncodedStep]) -> None:
        """Set the courses' next reminders; called only once the plans that say what was sent
        are in the table, so nothing is taken from the heap again before."""
        for f in batch:
            if f.plan.next_fire_at is not None:
                self.timers.push(f.plan.next_fire_at, f.course_id, f.partition)
