"""Who is employee, leader, psychologist and team lead of each course, from the course events
themselves: the gate decides from this, never from the role a request claims."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared.events import (
    CourseCancelled,
    CourseStarted,
    Event,
    PsychologistAssigned,
    RecipientRole,
)

# A course closed because one of its people was erased has no members any more: nothing in it
# may go to anyone, also what was requested before the erasure and is still waiting.
MEMBERSHIP_EVENTS = frozenset({"course.started", "psychologist.assigned", "course.cancelled"})


class CourseMembers(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    started: bool = False
    employee_id: str | None = None
    leader_id: str | None = None
    psychologist_id: str | None = None
    team_lead_id: str | None = None
    # When the psychologist was last (re)assigned; a later assignment replaces an earlier one.
    assigned_at: datetime | None = None
    closed_by_erasure: bool = False

    def holds(self, person_id: str, role: RecipientRole) -> bool:
        """Whether the person holds the role in this course (a course's own people only)."""
        holder = {"employee": self.employee_id, "leader": self.leader_id,
                  "psychologist": self.psychologist_id, "team_lead": self.team_lead_id}[role]
        return (self.started and not self.closed_by_erasure and holder is not None
                and holder == person_id)


def fold(current: CourseMembers | None, event: Event) -> CourseMembers | None:
    """The course's members after `event`, or None when it changes nothing. The start fixes
    employee, leader and team lead once (a repeated start changes nothing); the psychologist
    is the one of the latest assignment, whichever order start and assignment arrive in."""
    members = current or CourseMembers()
    if isinstance(event, CourseStarted):
        if members.started:
            return None
        psychologist = members.psychologist_id if members.assigned_at else event.psychologist_id
        return members.model_copy(update={
            "started": True, "employee_id": event.employee_id, "leader_id": event.leader_id,
            "team_lead_id": event.team_lead_id, "psychologist_id": psychologist})
    if isinstance(event, PsychologistAssigned):
        if members.assigned_at is not None and event.occurred_at < members.assigned_at:
            return None
        return members.model_copy(update={"psychologist_id": event.psychologist_id,
                                          "assigned_at": event.occurred_at})
    if isinstance(event, CourseCancelled) and event.reason == "person_erased":
        return None if members.closed_by_erasure else \
            members.model_copy(update={"closed_by_erasure": True})
    return None


def without_erased(members: CourseMembers | None,
                   erased: Callable[[str], bool]) -> CourseMembers | None:
    """A course whose employee or leader was erased has no members, also before (or without)
    its cancellation: every message in it would be to or about that person."""
    if members is None or members.closed_by_erasure:
        return members
    if any(p is not None and erased(p) for p in (members.employee_id, members.leader_id)):
        return members.model_copy(update={"closed_by_erasure": True})
    return members
