"""Course events and the clock in; contact-point changes and notification requests out.

Outputs are published before the plan is written to the changelog, and the input offset is
committed after both. A crash in between repeats the step: the repeated notification requests
carry the same deterministic notification id, so the notifier's ledger sends each only once.
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.rules import Rules, Step
from shared.clock import Clock
from shared.kafka import EventProducer, decode_or_dead_letter
from shared.logging import get_logger
from shared.ops import CONTACT_POINTS
from shared.state import ChangelogTable
from shared.topics import Topics

log = get_logger("contact_scheduler")


@dataclass
class SchedulerHandlers:
    topics: Topics
    producer: EventProducer
    plans: ChangelogTable[CoursePlan]
    rules: Rules
    clock: Clock
    # One course is never worked on by the event handler and the timer at the same time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _timers: list[tuple[datetime, str]] = field(default_factory=list)
    _timers_generation: int = -1
    fired: int = 0
    batch_size: int = 500

    async def on_event(self, record: Any) -> None:
        await self.plans.wait_ready()
        base = record.topic.removeprefix(self.topics.prefix)
        event = await decode_or_dead_letter(self.producer, record, self.topics.dlq(base))
        if event is None:
            return
        if event.course_id is None:
            await self.producer.dead_letter(self.topics.dlq(base), record.value, record.key,
                                            f"{getattr(event, 'type', '?')} without course_id",
                                            (record.topic, record.partition, record.offset))
            return
        async with self.lock:
            now = self.clock.now()
            known = self.plans.get(event.course_id)
            plan = known or CoursePlan(course_id=event.course_id)
            step = self.rules.on_event(plan, event, now)
            if step.plan == plan and not step.outputs and known is not None:
                return  # a session held, a repeat: nothing to write
            await self._commit([(step, record.partition)])

    def _rebuild_timers(self) -> None:
        self._timers = [(p.next_fire_at, k) for k, p in self.plans.items()
                        if p.next_fire_at is not None]
        heapq.heapify(self._timers)
        self._timers_generation = self.plans.generation

    async def tick(self) -> int:
        """Fire every reminder that is due now; returns how many courses moved."""
        if not self.plans.ready.is_set():
            return 0
        moved = 0
        async with self.lock:
            if self._timers_generation != self.plans.generation:
                self._rebuild_timers()
            now = self.clock.now()
            batch: list[tuple[Step, int]] = []
            in_batch: set[str] = set()
            while self._timers and self._timers[0][0] <= now:
                at, course_id = heapq.heappop(self._timers)
                plan = self.plans.get(course_id)
                partition = self.plans.partition_of(course_id)
                # A course can be queued more than once for the same moment (each event
                # re-queues it); the table only changes when the batch is committed, so a
                # course already in this batch must not be fired again from its old plan.
                if plan is None or partition is None or plan.next_fire_at != at \
                        or course_id in in_batch:
                    continue
                in_batch.add(course_id)
                batch.append((self.rules.fire_due(plan, now), partition))
                if len(batch) >= self.batch_size:
                    await self._commit(batch)
                    moved += len(batch)
                    batch, in_batch = [], set()
            if batch:
                await self._commit(batch)
                moved += len(batch)
        return moved

    async def _commit(self, batch: list[tuple[Step, int]]) -> None:
        """At 08:30 thousands of reminders fall due together: their outputs go out in one
        round trip, then their plans in another (the same order as for one course)."""
        destinations = {"contact-points": self.topics.contact_points,
                        "notifications": self.topics.notifications_requested}
        await self.producer.publish_all(
            [(destinations[d], e) for step, _ in batch for d, e in step.outputs])
        await self.plans.put_many([(s.plan.course_id, s.plan, p) for s, p in batch])
        for step, _ in batch:
            if step.plan.next_fire_at is not None:
                heapq.heappush(self._timers, (step.plan.next_fire_at, step.plan.course_id))
            self.fired += sum(1 for d, _ in step.outputs if d == "notifications")
            _count_points(step)

    async def run_timers(self, interval: float) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("timer_tick_failed")
            await asyncio.sleep(interval)


def _count_points(step: Step) -> None:
    for destination, event in step.outputs:
        if destination == "contact-points":
            CONTACT_POINTS.labels(getattr(event, "kind", ""),
                                  getattr(event, "type", "").removeprefix("contact_point.")).inc()
