"""Meetings in the calendars: a call with the leader or the three-party meeting, booked by the
psychologist at a time. Each version of a meeting is one invitation to everyone it concerns;
the notifier checks each against the course's consent as it sends."""

from __future__ import annotations

from datetime import datetime

from services.contact_scheduler.domain.outputs import notification
from services.contact_scheduler.domain.plan import CoursePlan, Meeting
from shared.events import Event, MeetingCancelled, MeetingScheduled, RecipientRole
from shared.notification_kinds import MEETING_NOTICES


def changed_meeting(plan: CoursePlan, event: MeetingScheduled | MeetingCancelled,
                    ) -> Meeting | None:
    """The meeting's next version, or None when the event changes nothing: a cancelled meeting
    stays cancelled, the same time again is no change, and a cancelled course books nothing.
    A meeting keeps the kind it was booked as; each change counts its version up."""
    current = plan.meetings.get(event.meeting_id)
    if isinstance(event, MeetingCancelled):
        if current is None or current.cancelled:
            return None
        return current.model_copy(update={"cancelled": True, "sequence": current.sequence + 1})
    if plan.status == "cancelled" or (current is not None and (
            current.cancelled or (current.starts_at == event.starts_at
                                  and current.minutes == event.duration_minutes))):
        return None
    return Meeting(kind=current.kind if current else event.meeting_kind,
                   starts_at=event.starts_at, minutes=event.duration_minutes,
                   sequence=current.sequence + 1 if current else 0)


def with_meeting(plan: CoursePlan, meeting_id: str, meeting: Meeting) -> CoursePlan:
    return plan.model_copy(update={"meetings": {**plan.meetings, meeting_id: meeting}})


def invitations(plan: CoursePlan, meeting_id: str, meeting: Meeting,
                now: datetime) -> list[Event]:
    """One request per person the meeting concerns and per version: for a call the
    psychologist and the leader, for the three-party meeting the employee too."""
    roles: list[tuple[RecipientRole, str | None]] = [
        ("psychologist", plan.psychologist_id), ("leader", plan.leader_id)]
    if meeting.kind == "three_party_meeting":
        roles.append(("employee", plan.employee_id))
    kind = MEETING_NOTICES[(meeting.kind, meeting.cancelled)]
    return [notification(plan, f"meeting:{meeting_id}:{meeting.sequence}:{role}", kind, person,
                         role, now, meeting_id=meeting_id, meeting_at=meeting.starts_at,
                         meeting_minutes=meeting.minutes, meeting_sequence=meeting.sequence)
            for role, person in roles if person]


def cancel_all(plan: CoursePlan, now: datetime) -> tuple[CoursePlan, list[Event]]:
    """A withdrawn referral leaves nothing in anyone's calendar."""
    outputs: list[Event] = []
    for meeting_id, meeting in sorted(plan.meetings.items()):
        if not meeting.cancelled:
            gone = meeting.model_copy(update={"cancelled": True,
                                              "sequence": meeting.sequence + 1})
            plan = with_meeting(plan, meeting_id, gone)
            outputs += invitations(plan, meeting_id, gone, now)
    return plan, outputs
