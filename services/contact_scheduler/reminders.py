"""The clock in; the reminders of every course whose moment has come out.

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
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.steps import CourseSteps, EncodedStep
from shared.clock import sleep_until
from shared.logging import get_logger
from shared.timers import tick_forever

log = get_logger("contact_scheduler")


@dataclass
class _Burst:
    """Steps published in batches of `size`, with up to `in_flight` batches unacknowledged."""

    publish: Callable[[list[EncodedStep]], Coroutine[Any, Any, None]]
    size: int
    in_flight: int
    batch: list[EncodedStep] = field(default_factory=list)
    sends: list[asyncio.Task[None]] = field(default_factory=list)
    done: list[EncodedStep] = field(default_factory=list)

    async def add(self, step: EncodedStep) -> None:
        self.batch.append(step)
        if len(self.batch) >= self.size:
            await self._send()

    async def _send(self) -> None:
        self.sends.append(asyncio.create_task(self.publish(self.batch)))
        self.done.extend(self.batch)
        self.batch = []
        if len(self.sends) >= self.in_flight:
            await self.sends[-self.in_flight]

    async def finish(self) -> list[EncodedStep]:
        """Every step sent and acknowledged; returns them."""
        if self.batch:
            await self._send()
        await asyncio.gather(*self.sends)
        return self.done

    def cancel(self) -> None:
        for task in self.sends:
            task.cancel()


@dataclass
class ReminderTimers:
    steps: CourseSteps
    batch_size: int = 2000
    in_flight_batches: int = 4
    lookahead: timedelta = timedelta(minutes=10)
    prepare_budget_seconds: float = 0.1
    # Moments within the lookahead, taken from the heap, and the steps prepared for them.
    _near: dict[datetime, list[str]] = field(default_factory=dict)
    _prepared: dict[str, tuple[CoursePlan, datetime, EncodedStep]] = field(default_factory=dict)

    @property
    def prepared(self) -> int:
        return len(self._prepared)

    async def tick(self) -> int:
        """Fire every reminder that is due now, then prepare those due soon; returns how many
        courses moved."""
        steps = self.steps
        if not steps.plans.ready.is_set():
            return 0
        async with steps.lock:
            if steps.timers.sync():
                self._near, self._prepared = {}, {}
            now = steps.clock.now()
            # The burst allocates freely; a cycle collection in the middle of it (which walks
            # every tracked object) would hold the reminders back. Collect after it instead.
            collecting = gc.isenabled()
            gc.disable()
            try:
                moved = await self._fire_due(now)
            except BaseException:
                # Popped timers of a batch that was not written must come back from the table.
                steps.timers.invalidate()
                raise
            finally:
                if collecting:
                    gc.enable()
            await steps.producer.learn_partitions(steps.topics.contact_points,
                                                  steps.topics.notifications_requested)
            self._prepare(now)
        return moved

    async def _fire_due(self, now: datetime) -> int:
        steps = self.steps
        # A course can be queued more than once for the same moment (each event re-queues it),
        # and the table changes only once the tick's outputs are written: a course already
        # chosen in this tick is not fired again from its old plan.
        chosen: set[str] = set()
        burst = _Burst(steps.publish, self.batch_size, self.in_flight_batches)
        try:
            await self._fire_near(now, chosen, burst)
            for _, course_id, plan, partition in steps.timers.pop_due(now):
                if course_id not in chosen:
                    chosen.add(course_id)
                    await burst.add(steps.encode(steps.planner.fire_due(plan, now), partition))
            done = await burst.finish()
        except BaseException:
            burst.cancel()
            raise
        # Every output is acknowledged; now the plans that say they were sent.
        await steps.remember(done)
        steps.counted(done)
        # Timers go back on the heap only now, so that nothing moved in this tick is popped
        # again before its new plan is in the table; what is due already fires next tick.
        steps.schedule(done)
        return len(done)

    async def _fire_near(self, now: datetime, chosen: set[str], burst: _Burst) -> None:
        late_after = self.steps.planner.policy.late_after_seconds
        for at in sorted(m for m in self._near if m <= now):
            fresh = (now - at).total_seconds() <= late_after
            for course_id in self._near.pop(at):
                step = self._near_step(at, course_id, fresh, now, chosen)
                if step is not None:
                    await burst.add(step)

    def _near_step(self, at: datetime, course_id: str, fresh: bool, now: datetime,
                   chosen: set[str]) -> EncodedStep | None:
        prepared = self._prepared.pop(course_id, None)
        if course_id in chosen:
            return None
        chosen.add(course_id)
        # Still the very plan it was prepared from (any change replaces the object), so it is
        # also still due at `at`.
        if fresh and prepared is not None and prepared[0] is self.steps.plans.get(course_id):
            return prepared[2]
        current = self.steps.timers.current(at, course_id)
        if current is None:
            chosen.discard(course_id)
            return None
        return self.steps.encode(self.steps.planner.fire_due(current[0], now), current[1])

    def _prepare(self, now: datetime) -> None:
        """Work out, within a time budget, the steps of courses due within the lookahead."""
        steps = self.steps
        deadline = time.monotonic() + self.prepare_budget_seconds
        for at, course_id, plan, partition in steps.timers.pop_due(now + self.lookahead):
            if at > now:
                step = steps.planner.fire_due(plan, at)
                self._prepared[course_id] = (plan, at, steps.encode(step, partition))
            self._near.setdefault(at, []).append(course_id)
            if time.monotonic() >= deadline:
                break

    def next_moment(self) -> datetime | None:
        """The earliest timer; the near queue holds few distinct moments (08:30 of a day)."""
        heap = self.steps.timers.next_moment()
        return min([*self._near, *([heap] if heap is not None else [])], default=None)

    async def run(self, interval: float) -> None:
        """Tick every `interval` seconds, and at the very moment a timer falls due if that
        comes sooner: at 08:30 the reminders should not wait for the next round."""
        await tick_forever(
            self.tick, lambda: sleep_until(self.steps.clock, self.next_moment(), interval),
            "timer_tick_failed", log)
