"""Versioned event schemas shared by the services."""

from shared.events.codec import EVENT_TYPES, AnyEvent, EventDecodeError, decode_event, encode_event
from shared.events.contact_points import *  # noqa: F403
from shared.events.course import *  # noqa: F403
from shared.events.envelope import SCHEMA_VERSION, Event
from shared.events.intake import *  # noqa: F403
from shared.events.notifications import *  # noqa: F403
from shared.events.people import *  # noqa: F403

__all__ = ["EVENT_TYPES", "SCHEMA_VERSION", "AnyEvent", "Event", "EventDecodeError",
           "decode_event", "encode_event"]
