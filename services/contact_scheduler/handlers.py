"""Course events in; contact-point changes and notification requests out (see `steps` for the
order of writes that makes a crash harmless)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.steps import CourseSteps, EncodedStep
from shared import telemetry
from shared.catalogue import events_on
from shared.events import Event
from shared.kafka import decode_or_dead_letter
from shared.logging import get_logger

log = get_logger("contact_scheduler")


@dataclass
class SchedulerHandlers:
    steps: CourseSteps

    async def on_event(self, record: Any) -> None:
        await self.on_events([record])

    async def on_events(self, records: Sequence[Any]) -> None:
        """A batch of course events, in order: each is applied to the plan the ones before it
        left; then every output is written, then every changed plan, and only then are the
        offsets committed (when this returns)."""
        steps = self.steps
        await steps.plans.wait_ready()
        async with steps.lock:
            changed: dict[str, EncodedStep] = {}
            outputs: list[EncodedStep] = []
            for record in records:
                encoded = await self._apply(record, changed)
                if encoded is not None:
                    changed[encoded.course_id] = encoded
                    outputs.append(encoded)
            if not outputs:
                return
            # Outputs of every step in order, then the last plan of each course.
            with telemetry.batch_stage("publish"):
                await steps.publish(outputs)
            with telemetry.batch_stage("state write"):
                await steps.remember(list(changed.values()))
            steps.schedule(list(changed.values()))
            steps.counted(outputs)

    async def _apply(self, record: Any, changed: dict[str, EncodedStep]) -> EncodedStep | None:
        """One event applied to its course's plan as the batch so far left it; None when it
        changes nothing (or went to the DLQ)."""
        event = await self._decode(record)
        if event is None or event.course_id is None:
            return None
        pending = changed.get(event.course_id)
        known = pending.plan if pending is not None else self.steps.plans.get(event.course_id)
        plan = known or CoursePlan(course_id=event.course_id)
        event_id = str(event.event_id)
        if plan.has_applied(event_id):
            log.info("event_repeated", course_id=event.course_id, event_id=event_id)
            return None  # each event takes effect once
        try:
            with telemetry.stage("rules"):
                step = self.steps.planner.on_event(plan, event, self.steps.clock.now())
        except Exception as exc:
            # A bug in the rules must not hold up every course of the partition: the event
            # waits in the DLQ, to be replayed once fixed. (Leader messages stay safe meanwhile:
            # the notifier checks consent itself before sending.)
            log.exception("rules_failed", course_id=event.course_id,
                          type=getattr(event, "type", "?"))
            await self._dead_letter(record, f"rules failed: {type(exc).__name__}: {exc}")
            return None
        if step.plan == plan and not step.outputs and known is not None:
            return None  # a session held, a repeat: nothing to write
        step.plan = step.plan.with_applied(event_id)
        return self.steps.encode(step, record.partition)

    async def _decode(self, record: Any) -> Event | None:
        if record.value is None:
            # The referral service tombstones the consent of a course closed long ago; the
            # plan goes by this service's own sweep.
            return None
        topics = self.steps.topics
        base = topics.base(record.topic)
        event = await decode_or_dead_letter(self.steps.producer, record, topics.dlq(base),
                                            events_on(base), now=self.steps.clock.now())
        if event is not None and event.course_id is None:
            await self._dead_letter(record, f"{getattr(event, 'type', '?')} without course_id")
            return None
        return event

    async def _dead_letter(self, record: Any, reason: str) -> None:
        topics = self.steps.topics
        await self.steps.producer.dead_letter(topics.dlq(topics.base(record.topic)), record.value,
                                              record.key, reason,
                                              (record.topic, record.partition, record.offset))
