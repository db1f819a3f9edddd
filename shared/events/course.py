"""A course's life: opened by the referral service, lived through session events."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.envelope import Event
from shared.events.fields import ExternalId, LongId
from shared.events.people import Language, PersonId
from shared.notification_kinds import RecipientRole

Party = Literal["employee", "leader", "psychologist"]
ConsentScope = Literal["leader_contact", "three_party_meeting"]
ContactKind = Literal["start_call", "follow_up", "end_contact", "three_party_meeting", "plan_review"]
PlanKind = Literal["return_to_work", "retention"]
# What the psychologist can put in a calendar: a call with the leader, or the three-party meeting.
MeetingKind = Literal["leader_call", "three_party_meeting"]


class CourseStarted(Event):
    type: Literal["course.started"] = "course.started"
    referral_id: ExternalId
    employee_id: PersonId
    leader_id: PersonId
    psychologist_id: PersonId | None = None
    team_lead_id: PersonId | None = None
    start_date: date
    language: Language = "da"
    # What the referring leader stated about the employee's consent: the leader's word only.
    employee_consents_to_leader_contact: bool = False
    consent_stated_at: AwareDatetime | None = None


class CourseCancelled(Event):
    type: Literal["course.cancelled"] = "course.cancelled"
    reason: Literal["referral_withdrawn", "person_erased", "other"] = "other"


class CourseEnded(Event):
    type: Literal["course.ended"] = "course.ended"
    end_date: date


class SessionScheduled(Event):
    type: Literal["session.scheduled"] = "session.scheduled"
    session_id: ExternalId
    at: AwareDatetime


class SessionHeld(Event):
    type: Literal["session.held"] = "session.held"
    session_id: ExternalId
    at: AwareDatetime


class SessionCancelled(Event):
    type: Literal["session.cancelled"] = "session.cancelled"
    session_id: ExternalId


class LeaderContactLogged(Event):
    type: Literal["leader_contact.logged"] = "leader_contact.logged"
    contact_kind: ContactKind
    contact_point_id: LongId | None = None
    at: AwareDatetime
    # A call that did not reach the leader is on record but completes nothing.
    reached: bool = True


class FollowUpRequested(Event):
    type: Literal["follow_up.requested"] = "follow_up.requested"
    follow_up_id: ExternalId
    due_date: date | None = None


class MeetingScheduled(Event):
    """The psychologist set a time for a call with the leader or for the three-party meeting;
    a repeat with the same meeting id moves it (its kind stays what it was first)."""

    type: Literal["meeting.scheduled"] = "meeting.scheduled"
    meeting_id: ExternalId
    meeting_kind: MeetingKind
    starts_at: AwareDatetime
    duration_minutes: int = Field(default=45, ge=5, le=480)


class MeetingCancelled(Event):
    type: Literal["meeting.cancelled"] = "meeting.cancelled"
    meeting_id: ExternalId


class PsychologistAssigned(Event):
    type: Literal["psychologist.assigned"] = "psychologist.assigned"
    psychologist_id: PersonId


class ConsentGiven(Event):
    type: Literal["consent.given"] = "consent.given"
    party: Party
    scope: ConsentScope


class ConsentWithdrawn(Event):
    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    party: Party
    scope: ConsentScope


class PlanSet(Event):
    type: Literal["plan.set"] = "plan.set"
    plan_id: ExternalId
    plan_kind: PlanKind
    review_date: date


class ConsentStatement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agreed: bool
    as_of: AwareDatetime


class ConsentState(BaseModel):
    """A course's current consent: the latest statement of each party per scope. Consent to
    leader contact is the employee's own (recorded by the psychologist from a conversation, or
    given by the employee); what the leader stated on the referral is kept apart, as the
    leader's word, and never opens leader contact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    leader_contact: ConsentStatement | None = None
    three_party: dict[Party, ConsentStatement] = Field(default_factory=dict)
    stated_by_leader: ConsentStatement | None = None

    @property
    def allows_leader_contact(self) -> bool:
        return self.leader_contact is not None and self.leader_contact.agreed

    @property
    def allows_three_party_meeting(self) -> bool:
        parties: tuple[Party, ...] = ("employee", "leader", "psychologist")
        return self.allows_leader_contact and all(
            p in self.three_party and self.three_party[p].agreed for p in parties
        )


class CourseMembers(BaseModel):
    """Who is employee, leader, psychologist and team lead of a course, as its own events say
    (ids only): the notifier decides from this, never from the role a request claims."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    started: bool = False
    employee_id: PersonId | None = None
    leader_id: PersonId | None = None
    psychologist_id: PersonId | None = None
    team_lead_id: PersonId | None = None
    # When the psychologist was last (re)assigned; a later assignment replaces an earlier one.
    assigned_at: AwareDatetime | None = None
    closed_by_erasure: bool = False

    def holder(self, role: RecipientRole) -> str | None:
        return {"employee": self.employee_id, "leader": self.leader_id,
                "psychologist": self.psychologist_id, "team_lead": self.team_lead_id}[role]

    def holds(self, person_id: str, role: RecipientRole) -> bool:
        """Whether the person holds the role in this course (a course's own people only)."""
        holder = self.holder(role)
        return (self.started and not self.closed_by_erasure and holder is not None
                and holder == person_id)


class ConsentRecorded(Event):
    """The compacted `consents` record: the whole current consent state of one course, and who
    holds which role in it (so the notifier needs neither `courses` nor `sessions`)."""

    type: Literal["consent.recorded"] = "consent.recorded"
    state: ConsentState
    # The ids of the latest course and session events applied to it: a repeat is ignored.
    applied: tuple[str, ...] = Field(default=(), max_length=100)
    # When the course ended or was cancelled: the record is tombstoned a while after that.
    closed_at: AwareDatetime | None = None
    members: CourseMembers | None = None
