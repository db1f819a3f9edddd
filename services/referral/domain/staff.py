"""Psychologists and team leads come from the team's own directory, never from a referral: a
referral names them (by id or e-mail), and the directory says who they are and how to reach them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.events import Person, PsychologistAssigned, ReferralSubmitted, ReferredPerson
from shared.events.people import Language, Name, PersonId, Phone

StaffRole = Literal["psychologist", "team_lead"]


class StaffMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: PersonId
    name: Name
    email: EmailStr
    phone: Phone | None = None
    language: Language = "da"
    roles: frozenset[StaffRole]

    def as_referred(self) -> ReferredPerson:
        return ReferredPerson(person_id=self.id, name=self.name, email=self.email,
                              phone=self.phone, language=self.language)

    def as_person(self) -> Person:
        return Person(person_id=self.id, name=self.name, email=self.email, phone=self.phone,
                      language=self.language)


class StaffDirectory(BaseModel):
    """The team: every member's e-mail is in one of the organisation's domains."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email_domains: frozenset[str] = Field(min_length=1)
    staff: tuple[StaffMember, ...]

    @model_validator(mode="after")
    def _in_domain(self) -> StaffDirectory:
        domains = {d.lower() for d in self.email_domains}
        for member in self.staff:
            if str(member.email).rpartition("@")[2].lower() not in domains:
                raise ValueError(f"staff member {member.id} has an e-mail outside "
                                 f"{sorted(domains)}")
        if len({m.id for m in self.staff}) != len(self.staff):
            raise ValueError("a staff id appears twice")
        return self

    def member(self, person_id: str) -> StaffMember | None:
        return next((m for m in self.staff if m.id == person_id), None)

    def member_named(self, named: ReferredPerson) -> StaffMember | None:
        """The member a person in a referral is, by id or by e-mail, in whatever role."""
        email = str(named.email).lower() if named.email is not None else None
        return next((m for m in self.staff
                     if m.id == named.person_id or str(m.email).lower() == email), None)

    def find(self, named: ReferredPerson, role: StaffRole) -> StaffMember | None:
        """The member a referral names, by id if it gives one, else by e-mail, in that role."""
        for member in self.staff:
            same = (member.id == named.person_id if named.person_id
                    else named.email is not None
                    and str(member.email).lower() == str(named.email).lower())
            if same and role in member.roles:
                return member
        return None


def resolve_staff(referral: ReferralSubmitted,
                  directory: StaffDirectory) -> ReferralSubmitted | str:
    """The referral with its psychologist and team lead as the directory has them, or the reason
    it cannot be accepted: a referral naming someone who is not on the team in that role could
    otherwise make anyone a "psychologist" who receives the course's reminders."""
    replaced: dict[str, ReferredPerson] = {}
    # A member of the team may be referred (or refer) like anyone else, but their record is
    # still the directory's: a referral giving a staff id with other contact details would
    # otherwise redirect that member's reminders to whoever wrote it.
    for field in ("employee", "leader"):
        named_party: ReferredPerson = getattr(referral, field)
        staff_member = directory.member_named(named_party)
        if staff_member is not None:
            replaced[field] = staff_member.as_referred()
    for field, role in (("psychologist", "psychologist"), ("team_lead", "team_lead")):
        named: ReferredPerson | None = getattr(referral, field)
        if named is None:
            continue
        member = directory.find(named, role)  # type: ignore[arg-type]
        if member is None:
            how = f"id {named.person_id}" if named.person_id else "that e-mail"
            return f"unknown staff: no {role} with {how} in the staff directory"
        replaced[field] = member.as_referred()
    return referral.model_copy(update=replaced) if replaced else referral


def assignment_refusal(assigned: PsychologistAssigned, directory: StaffDirectory) -> str | None:
    """Why a course cannot be given this psychologist, or None when it can. Whoever may write
    `sessions` could otherwise make anyone on `people` a course's psychologist: they would get
    its staff reminders and digest lines, and be named to the leader with their phone."""
    member = directory.member(assigned.psychologist_id)
    if member is None or "psychologist" not in member.roles:
        return (f"unknown staff: no psychologist with id {assigned.psychologist_id} in the "
                f"staff directory")
    return None
