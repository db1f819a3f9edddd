"""Per course, only the facts the reports need: dates, kinds and yes/no answers, never a name,
a person id of the employee or leader, or anything said in a session."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from shared.calendar import local_date
from shared.events import (
    ConsentRecorded,
    ContactPointBlocked,
    ContactPointCancelled,
    ContactPointCompleted,
    ContactPointDue,
    ContactPointOverdue,
    ContactPointScheduled,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Event,
    LeaderContactLogged,
    PlanSet,
    PsychologistAssigned,
    ReferralSubmitted,
)
from shared.events.envelope import SCHEMA_VERSION

CONTACT_POINT_CHANGES = (ContactPointScheduled, ContactPointDue, ContactPointOverdue,
                         ContactPointCompleted, ContactPointCancelled, ContactPointBlocked)


class ReferralFacts(BaseModel):
    """What a referral tells the reports, re-keyed by its course id so it meets the course's other
    events in one partition. The unit is a configured unit's name or "other", never free text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    course_id: str
    referred_on: date
    unit: str
    stress_related: bool
    sick_leave_at_referral: bool


class CourseFacts(BaseModel):
    """One course, pseudonymous: the course id is the only link back, and it stays in here.
    The psychologist's (staff) id is kept for the team lead's compliance figures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    course_id: str
    referred_on: date | None = None
    unit: str | None = None
    stress_related: bool | None = None
    sick_leave_at_referral: bool | None = None
    start_date: date | None = None
    psychologist_id: str | None = None
    start_call_due_by: date | None = None
    start_call_done_on: date | None = None
    end_contact_due_by: date | None = None
    end_contact_done_on: date | None = None
    follow_up_events: tuple[str, ...] = ()
    consent_from_referral: bool = False  # the leader's word on the form: counted nowhere
    consent_recorded: bool | None = None
    three_party_wished: bool = False
    three_party_held: bool = False
    return_to_work_plan: bool = False
    retention_plan: bool = False
    end_date: date | None = None
    cancelled_on: date | None = None
    # Cancelled because its employee or leader was erased: only this mark and the date stay.
    erased: bool = False

    @property
    def follow_ups(self) -> int:
        return len(self.follow_up_events)

    @property
    def leader_contact_consent(self) -> bool:
        """The employee's own consent, as the consents topic has merged it. What the leader
        wrote on the referral form is not the employee's consent and does not count."""
        return self.consent_recorded is True

    @property
    def counted(self) -> bool:
        """A course enters the figures once it has started and its referral is known; a
        cancelled course (a withdrawn referral) never does."""
        return self.start_date is not None and self.referred_on is not None \
            and self.cancelled_on is None

    def expired(self, today: date, retention: timedelta) -> bool:
        """Facts are kept for `retention` after the course ends (or is cancelled)."""
        closed = self.end_date or self.cancelled_on
        return closed is not None and closed + retention < today


def from_referral(referral: ReferralSubmitted, course_id: str, known_units: dict[str, str]
                  ) -> ReferralFacts:
    """The referral's unit is kept only as a configured unit's name (matched without regard to
    case or surrounding space); free text becomes "other", so nothing typed leaves the service."""
    typed = (referral.unit or "").strip().casefold()
    return ReferralFacts(
        course_id=course_id, referred_on=local_date(referral.occurred_at),
        unit=known_units.get(typed, "other"),
        stress_related=referral.reason_category == "stress_related",
        sick_leave_at_referral=referral.sick_leave == "on_leave",
    )


def apply_referral(facts: CourseFacts | None, referral: ReferralFacts) -> CourseFacts:
    if facts is not None and facts.erased:
        return facts  # a referral's facts that arrive after the erasure are not kept either
    base = facts or CourseFacts(course_id=referral.course_id)
    return base.model_copy(update={
        "referred_on": referral.referred_on, "unit": referral.unit,
        "stress_related": referral.stress_related,
        "sick_leave_at_referral": referral.sick_leave_at_referral,
    })


def fold_event(facts: CourseFacts | None, event: Event) -> CourseFacts | None:
    """The course's facts after one event (see `apply_event`), or None when nothing changes.
    A course cancelled because its employee or leader was erased keeps none of its facts:
    they are pseudonymous health data (stress-related, sick leave), and `courses` links the
    course id to the person. A mark with the date of the cancellation takes their place, so no
    event or referral read later brings any of them back, and it expires like other facts."""
    if facts is not None and facts.erased:
        return None
    if isinstance(event, CourseCancelled) and event.reason == "person_erased" \
            and event.course_id is not None:
        return CourseFacts(course_id=event.course_id, erased=True,
                           cancelled_on=local_date(event.occurred_at))
    return apply_event(facts, event)


def apply_event(facts: CourseFacts | None, event: Event) -> CourseFacts | None:
    """The course's facts after one event, or None when the event says nothing reports need.
    A later course.started or course.ended replaces the dates: that is how a correction reaches
    the figures."""
    if event.course_id is None:
        return None
    base = facts or CourseFacts(course_id=event.course_id)
    update: dict[str, object] | None = None
    if isinstance(event, CourseStarted):
        update = {"start_date": event.start_date,
                  "consent_from_referral": event.employee_consents_to_leader_contact}
        if base.psychologist_id is None:
            update["psychologist_id"] = event.psychologist_id
        if base.referred_on is None:
            # The intake dates the course by the day of the referral; the referral's own facts
            # (unit, reason) follow on the repartition topic.
            update["referred_on"] = event.start_date
    elif isinstance(event, PsychologistAssigned):
        update = {"psychologist_id": event.psychologist_id}
    elif isinstance(event, CourseEnded):
        update = {"end_date": event.end_date}
    elif isinstance(event, CourseCancelled):
        update = {"cancelled_on": local_date(event.occurred_at)}
    elif isinstance(event, ConsentRecorded):
        employee = event.state.three_party.get("employee")
        update = {"consent_recorded": event.state.allows_leader_contact,
                  "three_party_wished": employee is not None and employee.agreed}
    elif isinstance(event, LeaderContactLogged):
        done = local_date(event.at)
        if event.contact_kind == "start_call" and base.start_call_done_on is None:
            update = {"start_call_done_on": done}
        elif event.contact_kind == "end_contact" and base.end_contact_done_on is None:
            update = {"end_contact_done_on": done}
        elif event.contact_kind == "three_party_meeting":
            update = {"three_party_held": True}
        elif event.contact_kind == "follow_up" and str(event.event_id) not in base.follow_up_events:
            update = {"follow_up_events": (*base.follow_up_events, str(event.event_id))}
    elif isinstance(event, PlanSet):
        field = "return_to_work_plan" if event.plan_kind == "return_to_work" else "retention_plan"
        update = {field: True}
    elif isinstance(event, CONTACT_POINT_CHANGES):
        if event.kind == "start_call":
            update = {"start_call_due_by": event.due_by}
        elif event.kind == "end_contact":
            update = {"end_contact_due_by": event.due_by}
    if update is None:
        return None
    changed = base.model_copy(update=update)
    return None if changed == facts else changed
