"""What a leader's referral says, before it becomes a course."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from shared.events.envelope import Event
from shared.events.people import ContactDetails, PersonId

ReasonCategory = Literal["stress_related", "other"]
SickLeave = Literal["none", "at_risk", "on_leave"]


class ReferredPerson(ContactDetails):
    """A person as the intake names them; the id is optional (derived from contact details)."""

    person_id: PersonId | None = None


class ReferralSubmitted(Event):
    type: Literal["referral.submitted"] = "referral.submitted"
    referral_id: str = Field(min_length=1, max_length=100)
    employee: ReferredPerson
    leader: ReferredPerson
    psychologist: ReferredPerson | None = None
    team_lead: ReferredPerson | None = None
    workplace: str = Field(min_length=1, max_length=200)
    unit: str | None = Field(default=None, max_length=200)
    reason_category: ReasonCategory
    sick_leave: SickLeave = "none"
    sick_leave_since: date | None = None
    employee_consents_to_leader_contact: bool

    @model_validator(mode="after")
    def _reachable(self) -> ReferralSubmitted:
        if not self.employee.reachable:
            raise ValueError("the employee has neither e-mail nor phone")
        if self.leader.email is None:
            raise ValueError("the leader has no e-mail address")
        if self.sick_leave == "none" and self.sick_leave_since is not None:
            raise ValueError("sick_leave_since given without sick leave")
        return self

    @property
    def key(self) -> str:
        return self.referral_id


class ReferralWithdrawn(Event):
    type: Literal["referral.withdrawn"] = "referral.withdrawn"
    referral_id: str = Field(min_length=1, max_length=100)

    @property
    def key(self) -> str:
        return self.referral_id


