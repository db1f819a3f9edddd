"""Course events and the clock in; contact-point changes and notification requests out.

Outputs are published before the plan is written to the changelog, and the input offset is
committed after both. A crash in between repeats the step: the repeated notification requests
carry the same deterministic notification id, so the notifier's ledger sends each only once.

Reminders fall due together (every working day at 08:30), thousands at the same instant. In the
minutes before, the timer loop works out and encodes what each of those courses will send
(`prepare`), so that at the moment itself only bytes go out. A prepared step is used only if
the course's plan is still the very plan it was computed from and the moment passed less than
`late_after_seconds` ago; otherwise the step is computed afresh. Its events carry the due moment
as `occurred_at`.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.rules import ContactPlanner, Step
from shared import telemetry
from shared.catalogue import events_on, topic_of
from shared.clock import Clock, sleep_until
from shared.events import Event, NotificationRequested
from shared.kafka import Publisher, Record, decode_or_dead_letter, event_record
from shared.logging import get_logger
from shared.ops import CONTACT_POINTS
from shared.state import ChangelogTable
from shared.topics import Topics

log = get_logger("contact_scheduler")


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


@dataclass
class SchedulerHandlers:
    topics: Topics
    producer: Publisher
    plans: ChangelogTable[CoursePlan]
    planner: ContactPlanner
    clock: Clock
    # One course is never worked on by the event handler and the timer at the same time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    batch_size: int = 2000
    in_flight_batches: int = 4
    lookahead: timedelta = timedelta(minutes=10)
    prepare_budget_seconds: float = 0.1
    # Called with each batch once its outputs are acknowledged (benchmarks time it).
    on_published: Callable[[list[EncodedStep]], None] | None = None
    notifications_requested: int = 0
    _timers: list[tuple[datetime, str]] = field(default_factory=list)
    _near: dict[datetime, list[str]] = field(default_factory=dict)
    _prepared: dict[str, tuple[CoursePlan, datetime, EncodedStep]] = field(default_factory=dict)
    _timers_generation: int = -1

    async def on_event(self, record: Any) -> None:
        await self.on_events([record])

    async def on_events(self, records: Sequence[Any]) -> None:
        """A batch of course events, in order: each is applied to the plan the ones before it
        left; then every output is written, then every changed plan, and only then are the
        offsets committed (when this returns)."""
        await self.plans.wait_ready()
        async with self.lock:
            changed: dict[str, EncodedStep] = {}
            outputs: list[EncodedStep] = []
            for record in records:
                event = await self._decode(record)
                if event is None or event.course_id is None:
                    continue
                now = self.clock.now()
                pending = changed.get(event.course_id)
                known = pending.plan if pending is not None else self.plans.get(event.course_id)
                plan = known or CoursePlan(course_id=event.course_id)
                event_id = str(event.event_id)
                if plan.has_applied(event_id):
                    log.info("event_repeated", course_id=event.course_id, event_id=event_id)
                    continue  # each event takes effect once
                try:
                    with telemetry.stage("rules"):
                        step = self.planner.on_event(plan, event, now)
                except Exception as exc:
                    # A bug in the rules must not hold up every course of the partition: the
                    # event waits in the DLQ, to be replayed once fixed. (Leader messages stay
                    # safe meanwhile: the notifier checks consent itself before sending.)
                    log.exception("rules_failed", course_id=event.course_id,
                                  type=getattr(event, "type", "?"))
                    await self._dead_letter(record, f"rules failed: {type(exc).__name__}: {exc}")
                    continue
                if step.plan == plan and not step.outputs and known is not None:
                    continue  # a session held, a repeat: nothing to write
                step.plan = step.plan.with_applied(event_id)
                encoded = self._encode(step, record.partition)
                changed[event.course_id] = encoded
                outputs.append(encoded)
            if not outputs:
                return
            # Outputs of every step in order, then the last plan of each course.
            with telemetry.batch_stage("publish"):
                await self._publish(outputs)
            with telemetry.batch_stage("state write"):
                await self._remember(list(changed.values()))
            self._schedule(list(changed.values()))
            self._counted(outputs)

    async def _decode(self, record: Any) -> Event | None:
        base = self.topics.base(record.topic)
        event = await decode_or_dead_letter(self.producer, record, self.topics.dlq(base),
                                            events_on(base), now=self.clock.now())
        if event is not None and event.course_id is None:
            await self._dead_letter(record, f"{getattr(event, 'type', '?')} without course_id")
            return None
        return event

    async def _dead_letter(self, record: Any, reason: str) -> None:
        dlq = self.topics.dlq(self.topics.base(record.topic))
        await self.producer.dead_letter(dlq, record.value, record.key, reason,
                                        (record.topic, record.partition, record.offset))

    @property
    def prepared(self) -> int:
        return len(self._prepared)

    def _rebuild_timers(self) -> None:
        self._timers = [(p.next_fire_at, k) for k, p in self.plans.items()
                        if p.next_fire_at is not None]
        heapq.heapify(self._timers)
        self._near, self._prepared = {}, {}
        self._timers_generation = self.plans.generation

    async def tick(self) -> int:
        """Fire every reminder that is due now, then prepare those due soon; returns how many
        courses moved."""
        if not self.plans.ready.is_set():
            return 0
        async with self.lock:
            if self._timers_generation != self.plans.generation:
                self._rebuild_timers()
            now = self.clock.now()
            # The burst allocates freely; a cycle collection in the middle of it (which walks
            # every tracked object) would hold the reminders back. Collect after it instead.
            collecting = gc.isenabled()
            gc.disable()
            try:
                moved = await self._fire_due(now)
            except BaseException:
                # Popped timers of a batch that was not written must come back from the table.
                self._timers_generation = -1
                raise
            finally:
                if collecting:
                    gc.enable()
            await self.producer.learn_partitions(self.topics.contact_points,
                                                 self.topics.notifications_requested)
            self._prepare(now)
        return moved

    async def _fire_due(self, now: datetime) -> int:
        late_after = self.planner.policy.late_after_seconds
        chosen: set[str] = set()
        batch: list[EncodedStep] = []
        sends: list[asyncio.Task[None]] = []
        done: list[EncodedStep] = []

        async def publish() -> None:
            nonlocal batch
            sends.append(asyncio.create_task(self._publish(batch)))
            done.extend(batch)
            batch = []
            if len(sends) >= self.in_flight_batches:
                await sends[-self.in_flight_batches]

        def choose(at: datetime, course_id: str) -> tuple[CoursePlan, int] | None:
            plan = self.plans.get(course_id)
            partition = self.plans.partition_of(course_id)
            # A course can be queued more than once for the same moment (each event re-queues
            # it), and the table changes only once the tick's outputs are written: a course
            # already chosen in this tick is not fired again from its old plan.
            if plan is None or partition is None or plan.next_fire_at != at \
                    or course_id in chosen:
                return None
            chosen.add(course_id)
            return plan, partition

        try:
            for at in sorted(m for m in self._near if m <= now):
                fresh = (now - at).total_seconds() <= late_after
                for course_id in self._near.pop(at):
                    prepared = self._prepared.pop(course_id, None)
                    # Still the very plan it was prepared from (any change replaces the
                    # object), so it is also still due at `at`.
                    if fresh and prepared is not None and course_id not in chosen \
                            and prepared[0] is self.plans.get(course_id):
                        chosen.add(course_id)
                        batch.append(prepared[2])
                    elif (current := choose(at, course_id)) is not None:
                        batch.append(self._encode(self.planner.fire_due(current[0], now),
                                                  current[1]))
                    else:
                        continue
                    if len(batch) >= self.batch_size:
                        await publish()
            while self._timers and self._timers[0][0] <= now:
                at, course_id = heapq.heappop(self._timers)
                current = choose(at, course_id)
                if current is not None:
                    batch.append(self._encode(self.planner.fire_due(current[0], now), current[1]))
                    if len(batch) >= self.batch_size:
                        await publish()
            if batch:
                await publish()
            await asyncio.gather(*sends)
        except BaseException:
            for task in sends:
                task.cancel()
            raise
        # Every output is acknowledged; now the plans that say they were sent.
        await self._remember(done)
        self._counted(done)
        # Timers go back on the heap only now, so that nothing moved in this tick is popped
        # again before its new plan is in the table; what is due already fires next tick.
        self._schedule(done)
        return len(done)

    def _prepare(self, now: datetime) -> None:
        """Work out, within a time budget, the steps of courses due within the lookahead."""
        horizon = now + self.lookahead
        deadline = time.monotonic() + self.prepare_budget_seconds
        while self._timers and self._timers[0][0] <= horizon and time.monotonic() < deadline:
            at, course_id = heapq.heappop(self._timers)
            plan = self.plans.get(course_id)
            partition = self.plans.partition_of(course_id)
            if plan is None or partition is None or plan.next_fire_at != at:
                continue
            if at > now:
                step = self.planner.fire_due(plan, at)
                self._prepared[course_id] = (plan, at, self._encode(step, partition))
            self._near.setdefault(at, []).append(course_id)

    def _encode(self, step: Step, partition: int) -> EncodedStep:
        outputs: list[Record] = []
        for event in step.outputs:
            topic, _, key, value, headers = event_record(self.topics.for_event(event), event)
            outputs.append((topic, self.producer.partition_for(topic, key), key, value, headers))
        plan = step.plan
        return EncodedStep(plan.course_id, partition, plan, outputs,
                     self.plans.record(plan.course_id, plan, partition),
                     sum(1 for e in step.outputs if isinstance(e, NotificationRequested)),
                     [(getattr(e, "kind", ""), getattr(e, "type", "").removeprefix("contact_point."))
                      for e in step.outputs if topic_of(e) == "contact-points"])

    async def _publish(self, batch: list[EncodedStep]) -> None:
        await self.producer.send_records([r for f in batch for r in f.outputs])
        if self.on_published is not None:
            self.on_published(batch)

    async def _remember(self, batch: list[EncodedStep]) -> None:
        await self.producer.send_records([f.plan_record for f in batch])
        self.plans.remember((f.course_id, f.plan, f.partition) for f in batch)

    def _counted(self, batch: list[EncodedStep]) -> None:
        points = Counter(p for f in batch for p in f.points)
        for (kind, state), n in points.items():
            CONTACT_POINTS.labels(kind, state).inc(n)
        self.notifications_requested += sum(f.notifications for f in batch)

    def _schedule(self, batch: list[EncodedStep]) -> None:
        for f in batch:
            if f.plan.next_fire_at is not None:
                heapq.heappush(self._timers, (f.plan.next_fire_at, f.course_id))

    def next_moment(self) -> datetime | None:
        """The earliest timer; the near queue holds few distinct moments (08:30 of a day)."""
        return min([*self._near, *(t for t, _ in self._timers[:1])], default=None)

    async def run_timers(self, interval: float) -> None:
        """Tick every `interval` seconds, and at the very moment a timer falls due if that
        comes sooner: at 08:30 the reminders should not wait for the next round."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("timer_tick_failed")
            await asyncio.sleep(sleep_until(self.clock, self.next_moment(), interval))
