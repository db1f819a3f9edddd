"""Who holds which role in a course, folded from the course's own events: written with the
course's consent, so that whoever reads `consents` knows the course's people by id."""

from __future__ import annotations

from shared.events import (
    CourseCancelled,
    CourseMembers,
    CourseStarted,
    Event,
    PsychologistAssigned,
)


def fold(current: CourseMembers | None, event: Event) -> CourseMembers | None:
    """The course's members after `event`, or None when it changes nothing. The start fixes
    employee, leader and team lead once (a repeated start changes nothing); the psychologist
    is the one of the latest assignment, whichever order start and assignment arrive in. A
    course cancelled because one of its people was erased has no members any more."""
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
        updated = members.model_copy(update={"psychologist_id": event.psychologist_id,
                                             "assigned_at": event.occurred_at})
        return None if updated == current else updated
    if isinstance(event, CourseCancelled) and event.reason == "person_erased":
        return None if members.closed_by_erasure else \
            members.model_copy(update={"closed_by_erasure": True})
    return None
