"""Bytes to events and back; anything undecodable is one error type with a readable reason."""

from __future__ import annotations

import json
from typing import Annotated, Any, Union, get_args

from pydantic import Field, TypeAdapter, ValidationError

from shared.events.contact_points import (
    ContactPointBlocked,
    ContactPointCancelled,
    ContactPointCompleted,
    ContactPointDue,
    ContactPointOverdue,
    ContactPointScheduled,
)
from shared.events.course import (
    ConsentGiven,
    ConsentRecorded,
    ConsentWithdrawn,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    FollowUpRequested,
    LeaderContactLogged,
    MeetingCancelled,
    MeetingScheduled,
    PlanSet,
    PsychologistAssigned,
    SessionCancelled,
    SessionHeld,
    SessionScheduled,
)
from shared.events.envelope import SCHEMA_VERSION, Event
from shared.events.intake import ReferralSubmitted, ReferralWithdrawn
from shared.events.notifications import (
    NotificationDeferred,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    NotificationSuppressed,
)
from shared.events.people import PersonErased, PersonUpserted, RemindersChosen

AnyEvent = Annotated[
    Union[  # noqa: UP007 - a discriminated union needs the typing form
        ReferralSubmitted, ReferralWithdrawn,
        CourseStarted, CourseCancelled, CourseEnded,
        SessionScheduled, SessionHeld, SessionCancelled,
        LeaderContactLogged, FollowUpRequested, PsychologistAssigned,
        MeetingScheduled, MeetingCancelled,
        ConsentGiven, ConsentWithdrawn, ConsentRecorded, PlanSet,
        PersonUpserted, PersonErased, RemindersChosen,
        ContactPointScheduled, ContactPointDue, ContactPointOverdue,
        ContactPointCompleted, ContactPointCancelled, ContactPointBlocked,
        NotificationRequested, NotificationSent, NotificationSuppressed,
        NotificationFailed, NotificationDeferred,
    ],
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(AnyEvent)[0])
}
SUPPORTED_VERSIONS = frozenset({SCHEMA_VERSION})
MAX_EVENT_BYTES = 256 * 1024


class EventDecodeError(Exception):
    """A message that is not a valid event of a known type and version; `reason` says why."""

    def __init__(self, reason: str, event_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_type = event_type


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        loc = [str(p) for p in error["loc"]]
        where = ".".join(loc[1:] if loc and loc[0] in EVENT_TYPES else loc) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def decode_event(raw: bytes | None, expected: tuple[type[Event], ...] = ()) -> Event:
    """Decode one event, or raise EventDecodeError naming the first problem found. Any failure
    at all (deep nesting, a number too long to convert, a validator's own error) is that one
    error type, so no input can escape as an exception that makes a consumer redeliver forever."""
    try:
        return _decode(raw, expected)
    except EventDecodeError:
        raise
    except Exception as exc:  # RecursionError, ValueError, MemoryError...
        raise EventDecodeError(f"undecodable: {type(exc).__name__}: {str(exc)[:200]}") from None


def _decode(raw: bytes | None, expected: tuple[type[Event], ...]) -> Event:
    if raw is None:
        raise EventDecodeError("empty message (tombstone) where an event was expected")
    if len(raw) > MAX_EVENT_BYTES:
        raise EventDecodeError(f"message of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventDecodeError("event is not a JSON object")
    event_type = data.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise EventDecodeError(f"unknown event type {str(event_type)[:80]!r}")
    version = data.get("schema_version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise EventDecodeError(
            f"unsupported schema_version {str(version)[:20]!r} for {event_type}", event_type
        )
    if expected and EVENT_TYPES[event_type] not in expected:
        raise EventDecodeError(f"event type {event_type} does not belong on this topic", event_type)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {event_type}: {_describe(exc)}", event_type) from None
    except (RecursionError, ValueError) as exc:
        raise EventDecodeError(f"undecodable {event_type}: {type(exc).__name__}",
                               event_type) from None


def encode_event(event: Event) -> bytes:
    return event.model_dump_json().encode()
