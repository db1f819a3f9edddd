"""Wiring of the contact scheduler: one subscriber over the course topics, the plan table, timers."""

from __future__ import annotations

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.handlers import SchedulerHandlers
from services.contact_scheduler.reminders import ReminderTimers
from services.contact_scheduler.steps import CourseSteps
from shared.calendar import WorkingDayCalendar
from shared.clock import Clock, clock_from_env
from shared.logging import configure_logging
from shared.ops import ServiceApp, run
from shared.retention import ClosedCourseSweep
from shared.service import ServiceShell
from shared.settings import KafkaSettings
from shared.telemetry import configure_tracing
from shared.topics import RetentionSettings

GROUP = "contact-scheduler"


class SchedulerService(ServiceShell):
    def __init__(self, settings: KafkaSettings, clock: Clock, policy: ContactPolicy | None = None,
                 tick_interval: float = 0.5, batch_size: int = 500,
                 retention: RetentionSettings | None = None) -> None:
        super().__init__("contact-scheduler", settings)
        topics = self.topics
        self.plans = self.table(topics.scheduler_state, lambda p: p.model_dump_json().encode(),
                                CoursePlan.model_validate_json,
                                inputs=[topics.courses, topics.sessions, topics.consents])
        self.steps = CourseSteps(topics, self.producer, self.plans,
                                 ContactPlanner(policy or ContactPolicy(), WorkingDayCalendar()),
                                 clock)
        self.handlers = SchedulerHandlers(self.steps)
        self.reminders = ReminderTimers(self.steps)
        self.timer(lambda: self.reminders.run(tick_interval))
        keep = retention or RetentionSettings()
        self.retention = ClosedCourseSweep(self.plans, lambda p: p.closed_since, clock,
                                           keep.ended_course_keep, lock=self.steps.lock,
                                           also=self._unlist)
        self.timer(lambda: self.retention.run(keep.ended_course_sweep_seconds))
        self.subscribe(topics.courses, topics.sessions, topics.consents, group=GROUP,
                       table=self.plans, handle=self.handlers.on_events, batch_size=batch_size)

    async def _unlist(self, course_id: str) -> None:
        """A swept course's open points go with its plan (an end contact never made)."""
        await self.producer.send_records([self.steps.open_points_record(course_id, None)])

    def health(self) -> dict[str, object]:
        return {"ok": self.plans.ready.is_set(), "partitions": sorted(self.plans.owned),
                "courses": len(self.plans),
                "notifications_requested": self.steps.notifications_requested}


def create_app() -> ServiceApp:
    configure_logging()
    configure_tracing("contact-scheduler")
    return SchedulerService(KafkaSettings(), clock_from_env()).app()


if __name__ == "__main__":
    run(create_app(), "contact-scheduler", 9102)
