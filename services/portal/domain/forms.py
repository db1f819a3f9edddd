"""Form fields to events, and validation errors to the field they belong to.

The events' own pydantic models do the validating, so the portal can never accept what the
services would refuse; this module only names which form field an error belongs to and which
message key explains it (the page translates the key)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from shared.calendar import COPENHAGEN
from shared.events import (
    ConsentGiven,
    ConsentWithdrawn,
    CourseEnded,
    Event,
    FollowUpRequested,
    LeaderContactLogged,
    MeetingCancelled,
    MeetingScheduled,
    PlanSet,
    PsychologistAssigned,
    ReferralSubmitted,
    SessionCancelled,
    SessionHeld,
    SessionScheduled,
)

Errors = dict[str, str]
Form = Mapping[str, str]

# Which form field a location in ReferralSubmitted belongs to.
_REFERRAL_FIELDS = {
    ("employee", "name"): "employee_name", ("employee", "email"): "employee_email",
    ("employee", "phone"): "employee_phone", ("workplace",): "workplace", ("unit",): "unit",
    ("reason_category",): "reason_category", ("sick_leave",): "sick_leave",
    ("sick_leave_since",): "sick_leave_since",
}
# Messages of the models' own validators, by a fragment of their English text.
_VALUE_ERRORS = (
    ("neither e-mail nor phone", "employee_email", "error.needs_contact"),
    ("sick_leave_since given", "sick_leave_since", "error.since_without_leave"),
    ("leader has no e-mail", "", "error.leader_email"),
    ("is empty", "", "error.required"),
    ("not a valid email", "", "error.email"),
    ("email", "", "error.email"),
    ("phone", "", "error.phone"),
)


class FormInvalid(Exception):
    def __init__(self, errors: Errors) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def message_key(error: Mapping[str, Any]) -> tuple[str, str]:
    """(field hint, message key) for one pydantic error."""
    kind = str(error.get("type", ""))
    if kind == "missing" or kind == "string_too_short":
        return "", "error.required"
    if kind == "string_too_long":
        return "", "error.too_long"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "", "error.date"
    if kind in ("literal_error", "enum"):
        return "", "error.choice"
    message = str(error.get("msg", ""))
    for fragment, field, key in _VALUE_ERRORS:
        if fragment in message:
            return field, key
    return "", "error.invalid"


def errors_of(exc: ValidationError, fields: Mapping[tuple[str, ...], str]) -> Errors:
    errors: Errors = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(str(p) for p in error["loc"])
        hint, key = message_key(error)
        field = fields.get(loc) or hint or fields.get(loc[:1]) or "form"
        errors.setdefault(field, key)
    return errors


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# The referral form's unit: a choice from the configured list, or this choice and the unit
# typed in its own field (reports count a unit not in the list as "other").
UNIT_OTHER = "other"


def _unit(form: Form) -> tuple[str | None, str]:
    """The unit the form names, and the field it came from."""
    choice = (form.get("unit") or "").strip()
    if choice and choice != UNIT_OTHER:
        return choice, "unit"
    return _optional(form.get("unit_other")), "unit_other"


_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def token_of(event_id: UUID, length: int = 16) -> str:
    """An id derived from an event id, in letters only: a run of ten hex digits would be refused
    as a CPR-shaped number."""
    return event_id.hex[:length].translate(_DIGITS_TO_LETTERS)


def referral_from_form(form: Form, *, referral_id: str, event_id: UUID, now: datetime,
                       leader: dict[str, Any], psychologist: BaseModel | None,
                       team_lead: BaseModel | None) -> ReferralSubmitted:
    """The referral a leader's form describes; FormInvalid names each bad field."""
    unit, unit_field = _unit(form)
    data: dict[str, Any] = {
        "event_id": event_id, "occurred_at": now, "referral_id": referral_id,
        "employee": {"name": form.get("employee_name", ""),
                     "email": _optional(form.get("employee_email")),
                     "phone": _optional(form.get("employee_phone")),
                     "language": form.get("employee_language") or "da"},
        "leader": leader,
        "psychologist": psychologist.model_dump() if psychologist else None,
        "team_lead": team_lead.model_dump() if team_lead else None,
        "workplace": form.get("workplace", "").strip(),
        "unit": unit,
        "reason_category": form.get("reason_category") or None,
        "sick_leave": form.get("sick_leave") or "none",
        "sick_leave_since": _optional(form.get("sick_leave_since")),
        # Consent to leader contact is the employee's own (their page, or the psychologist
        # from a conversation): the form does not ask the leader for it.
        "employee_consents_to_leader_contact": False,
    }
    try:
        return ReferralSubmitted.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(errors_of(exc, {**_REFERRAL_FIELDS, ("unit",): unit_field})) from None


# Course actions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionContext:
    course_id: str
    event_id: UUID
    now: datetime
    # Whom a course may be reassigned to: the staff directory's psychologists; None (in
    # development, without a directory) for anyone.
    assignable: frozenset[str] | None = None


def _date(form: Form, field: str) -> date:
    try:
        return date.fromisoformat(form.get(field, "").strip())
    except ValueError:
        raise FormInvalid({field: "error.date"}) from None


def _moment(form: Form, day_field: str, time_field: str) -> datetime:
    day = _date(form, day_field)
    raw = form.get(time_field, "").strip() or "09:00"
    if not re.fullmatch(r"\d{1,2}:\d{2}", raw):
        raise FormInvalid({time_field: "error.time"})
    hours, minutes = (int(p) for p in raw.split(":"))
    if hours > 23 or minutes > 59:
        raise FormInvalid({time_field: "error.time"})
    return datetime.combine(day, time(hours, minutes), COPENHAGEN)


def _choice(form: Form, field: str, allowed: tuple[str, ...]) -> str:
    value = form.get(field, "")
    if value not in allowed:
        raise FormInvalid({field: "error.choice"})
    return value


def _log_call(form: Form, c: ActionContext) -> Event:
    kind = _choice(form, "contact_kind", ("start_call", "follow_up", "end_contact"))
    reached = _choice(form, "reached", ("yes", "no")) == "yes"
    return LeaderContactLogged(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                               contact_kind=kind, at=c.now, reached=reached)


def _follow_up(form: Form, c: ActionContext) -> Event:
    return FollowUpRequested(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                             follow_up_id=token_of(c.event_id), due_date=_date(form, "due_date"))


def _consent(form: Form, c: ActionContext) -> Event:
    scope = _choice(form, "scope", ("leader_contact", "three_party_meeting"))
    party = _choice(form, "party", ("employee", "leader", "psychologist"))
    if scope == "leader_contact" and party != "employee":
        raise FormInvalid({"party": "error.only_employee"})
    cls = ConsentGiven if _choice(form, "agreed", ("yes", "no")) == "yes" else ConsentWithdrawn
    return cls(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
               party=party, scope=scope)


def _session(form: Form, c: ActionContext) -> Event:
    what = _choice(form, "what", ("scheduled", "held", "cancelled"))
    session_id = form.get("session_id", "").strip() or token_of(c.event_id)
    if what == "cancelled":
        return SessionCancelled(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                                session_id=session_id)
    cls = SessionScheduled if what == "scheduled" else SessionHeld
    return cls(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
               session_id=session_id, at=_moment(form, "session_date", "session_time"))


MEETING_MINUTES = ("15", "30", "45", "60", "90")
NEW_MEETING = "new"


def _meeting(form: Form, c: ActionContext) -> Event:
    """A call with the leader or the three-party meeting at a time: a new one, or one already
    in the calendars moved (its id chosen on the form). Each concerned person gets the
    invitation, or its update, as the course's consent allows."""
    kind = _choice(form, "meeting_kind", ("leader_call", "three_party_meeting"))
    starts_at = _moment(form, "meeting_date", "meeting_time")
    if starts_at <= c.now:
        raise FormInvalid({"meeting_date": "error.past"})
    minutes = int(_choice(form, "duration_minutes", MEETING_MINUTES))
    chosen = form.get("meeting_id", NEW_MEETING).strip() or NEW_MEETING
    meeting_id = token_of(c.event_id) if chosen == NEW_MEETING else chosen
    try:
        return MeetingScheduled(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                                meeting_id=meeting_id, meeting_kind=kind, starts_at=starts_at,
                                duration_minutes=minutes)
    except ValidationError:
        raise FormInvalid({"meeting_id": "error.choice"}) from None


def _cancel_meeting(form: Form, c: ActionContext) -> Event:
    try:
        return MeetingCancelled(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                                meeting_id=form.get("meeting_id", "").strip())
    except ValidationError:
        raise FormInvalid({"form": "error.choice"}) from None


def _plan(form: Form, c: ActionContext) -> Event:
    kind = _choice(form, "plan_kind", ("return_to_work", "retention"))
    return PlanSet(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                   plan_id=kind, plan_kind=kind, review_date=_date(form, "review_date"))


def _end(form: Form, c: ActionContext) -> Event:
    return CourseEnded(event_id=c.event_id, occurred_at=c.now, course_id=c.course_id,
                       end_date=_date(form, "end_date"))


def _reassign(form: Form, c: ActionContext) -> Event:
    psychologist_id = form.get("psychologist_id", "").strip()
    if c.assignable is not None and psychologist_id not in c.assignable:
        # The referral service would not take them into the course's members either.
        raise FormInvalid({"psychologist_id": "error.not_a_psychologist"})
    try:
        return PsychologistAssigned(event_id=c.event_id, occurred_at=c.now,
                                    course_id=c.course_id, psychologist_id=psychologist_id)
    except ValidationError:
        raise FormInvalid({"psychologist_id": "error.choice"}) from None


# One table: the action's name in the URL -> how its form becomes the one event it publishes.
ACTIONS: dict[str, Callable[[Form, ActionContext], Event]] = {
    "log-call": _log_call,
    "follow-up": _follow_up,
    "consent": _consent,
    "session": _session,
    "meeting": _meeting,
    "meeting-cancel": _cancel_meeting,
    "plan": _plan,
    "end": _end,
}
TEAM_LEAD_ACTIONS: dict[str, Callable[[Form, ActionContext], Event]] = {"reassign": _reassign}
