"""When a contact point's reminders fall due: at the policy's time on Danish working days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.contact_scheduler.domain.plan import ContactPoint, CoursePlan, Stage
from services.contact_scheduler.domain.policy import ContactPolicy
from shared.calendar import WorkingDayCalendar, at_wall_clock


@dataclass(frozen=True)
class ReminderMoments:
    policy: ContactPolicy
    calendar: WorkingDayCalendar
    # Reminder moments depend only on a point's dates and whether it is blocked; thousands of
    # courses share them, and walking the calendar for each was a third of a timer's cost.
    _cache: dict[tuple[date, date, bool], tuple[tuple[Stage, datetime], ...]] = field(
        default_factory=dict, compare=False, repr=False)

    def of(self, point: ContactPoint) -> list[tuple[Stage, datetime]]:
        """The reminder moments of a point, at the policy's time on working days."""
        key = (point.due_from, point.due_by, point.state == "blocked_no_consent")
        moments = self._cache.get(key)
        if moments is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            moments = self._cache[key] = tuple(self._compute(*key))
        return list(moments)

    def _compute(self, due_from: date, due_by: date,
                 blocked: bool) -> list[tuple[Stage, datetime]]:
        at = self.policy.reminder_time
        cal = self.calendar
        due = cal.next_working_moment(_midnight(due_from), at)
        overdue = cal.next_working_moment(_midnight(cal.add_working_days(due_by, 1)), at)
        if blocked:
            return [("consent_due", due), ("consent_overdue", overdue)]
        escalate = cal.next_working_moment(_midnight(cal.add_working_days(
            due_by, 1 + self.policy.escalate_after_overdue_working_days)), at)
        return [("due", due), ("overdue", overdue), ("escalated", escalate)]

    def pending(self, point: ContactPoint) -> list[tuple[Stage, datetime]]:
        """The moments of a point that have not fired yet, earliest first."""
        return [(s, t) for s, t in self.of(point) if s not in point.fired]

    def with_next_fire(self, plan: CoursePlan) -> CoursePlan:
        """The plan with the earliest pending moment of its open points as its next timer."""
        moments = [t for p in plan.points.values() if p.is_open for _, t in self.pending(p)[:1]]
        return plan.model_copy(update={"next_fire_at": min(moments) if moments else None})


def _midnight(day: date) -> datetime:
    return at_wall_clock(day, datetime.min.time())
