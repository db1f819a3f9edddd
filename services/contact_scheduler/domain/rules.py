"""How course events and the passing of time move a course's contact points."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from services.contact_scheduler.domain.meetings import (
    cancel_all,
    changed_meeting,
    invitations,
    with_meeting,
)
from services.contact_scheduler.domain.moments import ReminderMoments
from services.contact_scheduler.domain.outputs import notification, point_changed
from services.contact_scheduler.domain.plan import ContactPoint, CoursePlan, Stage
from services.contact_scheduler.domain.policy import ContactPolicy
from shared.calendar import WorkingDayCalendar, local_date
from shared.events import (
    ConsentRecorded,
    ContactKind,
    ContactPointState,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Event,
    FollowUpRequested,
    LeaderContactLogged,
    MeetingCancelled,
    MeetingScheduled,
    NotificationKind,
    PlanSet,
    RecipientRole,
)

NEEDS_LEADER_CONSENT: frozenset[ContactKind] = frozenset({"start_call", "follow_up", "end_contact"})


@dataclass
class Step:
    plan: CoursePlan
    outputs: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class ContactPlanner:
    policy: ContactPolicy
    calendar: WorkingDayCalendar
    moments: ReminderMoments = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "moments", ReminderMoments(self.policy, self.calendar))

    # --- events -------------------------------------------------------------------------

    def on_event(self, plan: CoursePlan, event: Event, now: datetime) -> Step:
        """An event changes the plan, and whatever it made due (consent that arrived after the
        start call fell due, a plan review dated today) fires at once."""
        changed = self.apply(plan, event, now)
        fired = self.fire_due(changed.plan, now)
        return Step(fired.plan, changed.outputs + fired.outputs)

    def apply(self, plan: CoursePlan, event: Event, now: datetime) -> Step:
        """A course event changes the plan; the returned outputs say what changed."""
        step = Step(plan)
        if isinstance(event, CourseStarted):
            self._start(step, event, now)
        elif isinstance(event, ConsentRecorded):
            self._consent(step, event.state.allows_leader_contact,
                          event.state.allows_three_party_meeting, now)
            self._reassigned(step, event)
        elif isinstance(event, LeaderContactLogged):
            self._complete(step, event, now)
        elif isinstance(event, FollowUpRequested):
            point_id = f"follow_up:{event.follow_up_id}"
            if point_id not in step.plan.points and step.plan.status == "open":
                start = local_date(event.occurred_at)
                due_by = event.due_date or self.calendar.add_working_days(
                    start, self.policy.follow_up_working_days)
                self._add(step, point_id, "follow_up", start, due_by, now)
        elif isinstance(event, PlanSet):
            point_id = f"plan_review:{event.plan_id}"
            current = step.plan.points.get(point_id)
            if step.plan.status == "open" and (current is None or current.is_open):
                if current is not None:
                    self._set_state(step, current, "cancelled", now)
                self._add(step, point_id, "plan_review", event.review_date, event.review_date,
                          now, replace=True)
        elif isinstance(event, CourseEnded):
            self._close(step, "ended", now, end_date=event.end_date)
            due_by = self.calendar.add_working_days(event.end_date,
                                                    self.policy.end_contact_working_days)
            self._add(step, "end_contact", "end_contact", event.end_date, due_by, now)
        elif isinstance(event, CourseCancelled):
            self._cancel(step, event, now)
        elif isinstance(event, MeetingScheduled | MeetingCancelled):
            self._meeting(step, event, now)
        step.plan = self.moments.with_next_fire(step.plan)
        return step

    @staticmethod
    def _reassigned(step: Step, record: ConsentRecorded) -> None:
        """The psychologist of a reassigned course is the one its consents record names: the
        referral service takes only a psychologist of the staff directory into the record's
        members, so an assignment naming anyone else on `sessions` changes nothing here."""
        members = record.members
        if members is not None and members.assigned_at is not None \
                and members.psychologist_id is not None:
            step.plan = step.plan.model_copy(update={"psychologist_id": members.psychologist_id})

    def _start(self, step: Step, event: CourseStarted, now: datetime) -> None:
        if step.plan.status != "pending":
            return  # a repeated course.started changes nothing
        # The consents topic is the merged truth. What the leader wrote on the referral form
        # never counts: until the employee's own consent is recorded, there is none.
        consent = step.plan.leader_contact_consent if step.plan.consent_seen else False
        step.plan = step.plan.model_copy(update={
            "status": "open", "employee_id": event.employee_id, "leader_id": event.leader_id,
            # A reassignment read (from the consents record) before the start stands.
            "psychologist_id": step.plan.psychologist_id or event.psychologist_id,
            "team_lead_id": event.team_lead_id,
            "start_date": event.start_date, "leader_contact_consent": consent,
        })
        due_by = self.calendar.add_working_days(event.start_date,
                                                self.policy.start_call_working_days)
        self._add(step, "start_call", "start_call", event.start_date, due_by, now)
        for meeting_id, meeting in sorted(step.plan.meetings.items()):
            if not meeting.cancelled:
                step.outputs += invitations(step.plan, meeting_id, meeting, now)
        if step.plan.consent_seen:
            self._consent(step, consent, step.plan.three_party_consent, now)

    def _consent(self, step: Step, leader_contact: bool, three_party: bool, now: datetime) -> None:
        before = step.plan
        step.plan = before.model_copy(update={"leader_contact_consent": leader_contact,
                                              "three_party_consent": three_party,
                                              "consent_seen": True})
        if before.status != "open":
            return
        for point in list(step.plan.points.values()):
            if not point.is_open or point.kind not in NEEDS_LEADER_CONSENT:
                continue
            if leader_contact and point.state == "blocked_no_consent":
                self._set_state(step, point, self._timely_state(point), now)
            elif not leader_contact and point.state != "blocked_no_consent":
                self._set_state(step, point, "blocked_no_consent", now)
        meeting = step.plan.points.get("three_party_meeting")
        if three_party and meeting is None:
            today = local_date(now)
            due_by = self.calendar.add_working_days(
                today, self.policy.three_party_meeting_working_days)
            self._add(step, "three_party_meeting", "three_party_meeting", today, due_by, now)
            for role, recipient in (("leader", step.plan.leader_id),
                                    ("psychologist", step.plan.psychologist_id),
                                    ("employee", step.plan.employee_id)):
                if recipient:
                    self._notify(step, f"three_party_meeting:agreed:{role}",
                                 "three_party_meeting_agreed", recipient, role,  # type: ignore[arg-type]
                                 now, contact_kind="three_party_meeting", due_date=due_by)
        elif not three_party and meeting is not None and meeting.is_open:
            self._set_state(step, meeting, "cancelled", now)

    def _meeting(self, step: Step, event: MeetingScheduled | MeetingCancelled,
                 now: datetime) -> None:
        """A booked, moved or cancelled meeting: its invitations go out at once, or, while the
        course's start (on another topic) has not arrived, when the course starts."""
        meeting = changed_meeting(step.plan, event)
        if meeting is not None:
            step.plan = with_meeting(step.plan, event.meeting_id, meeting)
            if step.plan.status != "pending":
                step.outputs += invitations(step.plan, event.meeting_id, meeting, now)

    def _complete(self, step: Step, event: LeaderContactLogged, now: datetime) -> None:
        if not event.reached:
            return
        candidates = [p for p in step.plan.points.values() if p.is_open and (
            p.point_id == event.contact_point_id if event.contact_point_id
            else p.kind == event.contact_kind)]
        if candidates:
            self._set_state(step, min(candidates, key=lambda p: p.due_by), "completed", now)

    def _cancel(self, step: Step, event: CourseCancelled, now: datetime) -> None:
        """A cancellation closes an open course. One because its employee or leader was erased
        also stops an ended course's end contact: its reminders are about the employee, and
        one of them goes to the leader."""
        if event.reason == "person_erased" and step.plan.status == "ended":
            self._cancel_points(step, now)
        self._close(step, "cancelled", now)

    def _cancel_points(self, step: Step, now: datetime) -> None:
        for point in list(step.plan.points.values()):
            if point.is_open:
                self._set_state(step, point, "cancelled", now)

    def _close(self, step: Step, status: Literal["ended", "cancelled"], now: datetime,
               end_date: date | None = None) -> None:
        if step.plan.status not in ("open", "pending"):
            return
        self._cancel_points(step, now)
        if status == "cancelled":
            step.plan, cancellations = cancel_all(step.plan, now)
            step.outputs += cancellations
        step.plan = step.plan.model_copy(update={"status": status, "end_date": end_date,
                                                 "closed_at": now})

    def _add(self, step: Step, point_id: str, kind: ContactKind, due_from: date, due_by: date,
             now: datetime, replace: bool = False) -> None:
        if point_id in step.plan.points and not replace:
            return
        blocked = kind in NEEDS_LEADER_CONSENT and not step.plan.leader_contact_consent
        point = ContactPoint(point_id=point_id, kind=kind, due_from=due_from, due_by=due_by,
                             state="blocked_no_consent" if blocked else "scheduled")
        step.plan = step.plan.with_point(point)
        self._emit(step, point, point.state if blocked else "scheduled", now)

    def _timely_state(self, point: ContactPoint) -> ContactPointState:
        """Where an unblocked point stands: its own timers decide when it turns due."""
        return "overdue" if "overdue" in point.fired else (
            "due" if "due" in point.fired else "scheduled")

    def _set_state(self, step: Step, point: ContactPoint, state: ContactPointState,
                   now: datetime, late: bool = False) -> ContactPoint:
        updated = point.model_copy(update={"state": state})
        step.plan = step.plan.with_point(updated)
        self._emit(step, updated, state, now, late)
        return updated

    def _emit(self, step: Step, point: ContactPoint, state: ContactPointState, now: datetime,
              late: bool = False) -> None:
        step.outputs.append(point_changed(step.plan, point, state, now, late))

    def _notify(self, step: Step, suffix: str, kind: NotificationKind, recipient: str,
                role: RecipientRole, now: datetime, late: bool = False,
                **facts: object) -> None:
        step.outputs.append(notification(step.plan, suffix, kind, recipient, role, now, late,
                                         **facts))

    # --- time ---------------------------------------------------------------------------

    def stage_moments(self, point: ContactPoint) -> list[tuple[Stage, datetime]]:
        return self.moments.of(point)

    def fire_due(self, plan: CoursePlan, now: datetime) -> Step:
        """Every reminder whose moment has come is sent once; one whose moment passed while
        the scheduler was down is sent now, marked late."""
        step = Step(plan)
        for point in sorted(plan.points.values(), key=lambda p: p.point_id):
            for stage, moment in self.moments.pending(point):
                if moment > now or not point.is_open:
                    break
                late = (now - moment).total_seconds() > self.policy.late_after_seconds
                point = self._fire(step, point, stage, moment, now, late)
        step.plan = self.moments.with_next_fire(step.plan)
        return step

    def _fire(self, step: Step, point: ContactPoint, stage: Stage, moment: datetime,
              now: datetime, late: bool) -> ContactPoint:
        point = point.model_copy(update={"fired": (*point.fired, stage)})
        step.plan = step.plan.with_point(point)
        plan = step.plan
        psychologist = plan.psychologist_id
        facts: dict[str, object] = {"contact_kind": point.kind, "due_date": point.due_by}
        if point.kind == "plan_review":
            facts["review_date"] = point.due_by
        number = len(point.fired)
        if stage in ("consent_due", "consent_overdue"):
            if psychologist:
                self._notify(step, f"{point.point_id}:{stage}", "consent_discussion_reminder",
                             psychologist, "psychologist", now, late, reminder_number=number,
                             **facts)
            return point
        if stage == "escalated":
            days = self.calendar.working_days_between(point.due_by, local_date(moment))
            lead = plan.team_lead_id or psychologist
            if lead:
                self._notify(step, f"{point.point_id}:escalated", "overdue_escalation", lead,
                             "team_lead" if plan.team_lead_id else "psychologist", now, late,
                             overdue_working_days=days, **facts)
            return point
        point = self._set_state(step, point, stage, now, late)  # type: ignore[arg-type]
        kind: NotificationKind = "plan_review_due" if point.kind == "plan_review" else "contact_reminder"
        if psychologist:
            self._notify(step, f"{point.point_id}:{stage}", kind, psychologist, "psychologist",
                         now, late, reminder_number=number, **facts)
        if stage == "due" and plan.leader_id and point.kind in ("start_call", "end_contact"):
            self._notify(step, f"{point.point_id}:due:leader", "leader_call_coming",
                         plan.leader_id, "leader", now, late, **facts)
        return point

