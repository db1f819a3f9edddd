"""Requests to tell a person something, and what became of them."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.course import ContactKind
from shared.events.envelope import Event
from shared.events.fields import ExternalId, LongId
from shared.events.people import Channel, PersonId
from shared.notification_kinds import ConsentRequirement as ConsentRequirement
from shared.notification_kinds import NotificationKind as NotificationKind
from shared.notification_kinds import RecipientRole as RecipientRole


class NotificationFacts(BaseModel):
    """The only facts a message may state: dates and kinds, never anything from a session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contact_kind: ContactKind | None = None
    due_date: date | None = None
    review_date: date | None = None
    reminder_number: int | None = Field(default=None, ge=0, le=1000)
    overdue_working_days: int | None = Field(default=None, ge=0, le=1000)
    # A meeting in the calendar: which one, when, how long, and its version (iCalendar SEQUENCE).
    meeting_id: ExternalId | None = None
    meeting_at: AwareDatetime | None = None
    meeting_minutes: int | None = Field(default=None, ge=5, le=480)
    meeting_sequence: int | None = Field(default=None, ge=0, le=100_000)


class NotificationRequested(Event):
    type: Literal["notification.requested"] = "notification.requested"
    notification_id: LongId
    kind: NotificationKind
    recipient_id: PersonId
    recipient_role: RecipientRole
    about_employee_id: PersonId | None = None
    psychologist_id: PersonId | None = None
    requires_consent: ConsentRequirement
    facts: NotificationFacts = Field(default_factory=NotificationFacts)
    deadline: AwareDatetime | None = None
    late: bool = False


class _Outcome(Event):
    notification_id: LongId
    kind: NotificationKind
    recipient_role: RecipientRole


class NotificationSent(_Outcome):
    type: Literal["notification.sent"] = "notification.sent"
    channel: Channel
    provider_message_id: str | None = None
    sms_segments: int | None = None


class NotificationSuppressed(_Outcome):
    type: Literal["notification.suppressed"] = "notification.suppressed"
    reason: str = Field(max_length=200)


class NotificationFailed(_Outcome):
    type: Literal["notification.failed"] = "notification.failed"
    reason: str = Field(max_length=500)
    attempts: int = 1


class NotificationDeferred(_Outcome):
    type: Literal["notification.deferred"] = "notification.deferred"
    until: AwareDatetime
    reason: str = Field(max_length=200)
