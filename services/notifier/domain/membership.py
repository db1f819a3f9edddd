"""Who is employee, leader, psychologist and team lead of each course: the referral service
writes it onto the course's `consents` record from the course events themselves, and the gate
decides from it, never from the role a request claims."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from shared.events import CourseMembers, NotificationRequested
from shared.notification_kinds import KINDS

__all__ = ["CourseMembers", "may_be_on_its_way", "next_look", "without_erased"]

# The longest pause between two looks at a request waiting for its course's members.
LONGEST_PAUSE = timedelta(minutes=5)


def without_erased(members: CourseMembers | None,
                   erased: Callable[[str], bool]) -> CourseMembers | None:
    """A course whose employee or leader was erased has no members, also before (or without)
    its cancellation: every message in it would be to or about that person."""
    if members is None or members.closed_by_erasure:
        return members
    if any(p is not None and erased(p) for p in (members.employee_id, members.leader_id)):
        return members.model_copy(update={"closed_by_erasure": True})
    return members


def may_be_on_its_way(request: NotificationRequested, members: CourseMembers | None) -> bool:
    """Whether the role a request names may still come to the course's record. The members are
    written a moment after the course events they come from, and a request can follow from
    such an event (the receipt of a course just opened, a reminder to a psychologist just
    assigned): what can still come is the course's start or a new psychologist. Nothing comes
    for a course closed at an erasure, for a role fixed at the start, or for someone who holds
    another role in the course."""
    spec = KINDS.get(request.kind)
    if request.course_id is None or (spec is not None and not spec.per_course):
        return False
    if members is None:
        return True
    if members.closed_by_erasure:
        return False
    if not members.started:
        return True
    if request.recipient_role != "psychologist":
        return False
    others = (members.employee_id, members.leader_id, members.team_lead_id)
    return request.recipient_id != members.psychologist_id and request.recipient_id not in others


def next_look(since: datetime, now: datetime, horizon: timedelta, first: timedelta,
              longest: timedelta = LONGEST_PAUSE) -> datetime | None:
    """When a request parked since `since` for a role that may still reach its course's record
    is looked at again: the pause doubles from `first` (each one as long as the wait so far) up
    to `longest`, and the last look falls on the horizon. None once the horizon has passed: the
    request is then refused."""
    if now >= since + horizon:
        return None
    pause = min(longest, max(first, now - since))
    return min(now + pause, since + horizon)
