"""What a leader's referral says, before it becomes a course."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import model_validator

from shared.events.envelope import Event
from shared.events.fields import ExternalId, FreeText
from shared.events.people import ContactDetails

ReasonCategory = Literal["stress_related", "other"]
SickLeave = Literal["none", "at_risk", "on_leave"]


class ReferredPerson(ContactDetails):
    """A person as the intake names them; the id is optional (derived from contact details)."""

    person_id: ExternalId | None = None


class ReferralSubmitted(Event):
    type: Literal["referral.submitted"] = "referral.submitted"
    referral_id: ExternalId
    employee: ReferredPerson
    leader: ReferredPerson
    psychologist: ReferredPerson | None = None
    team_lead: ReferredPerson | None = None
    workplace: FreeText
    unit: FreeText | None = None
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
    referral_id: ExternalId

    @property
    def key(self) -> str:
        return self.referral_id


