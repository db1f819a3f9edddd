"""`lederkontakt tail`: the event streams as operations watch them, one readable line an event."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from shared.catalogue import INPUTS, published_by
from shared.events import Event, EventDecodeError, decode_event
from shared.reader import batches, reading
from shared.settings import KafkaSettings
from shared.topics import SPECS, Topics

# Raw intake (every party's contact details), people and the DLQs (raw bytes of anything) are
# shown only when named: a screen someone glances at should carry ids and states, no more.
DEFAULT_TOPICS = ("courses", "sessions", "consents", "contact-points",
                  "notifications.requested", "notifications.status")
COLOURS = {"referrals": 36, "courses": 34, "sessions": 35, "consents": 33, "people": 33,
           "contact-points": 32, "notifications.requested": 37, "notifications.status": 92}
RED = 31

_DETAIL_FIELDS = ("referral_id", "contact_point_id", "kind", "contact_kind", "party", "scope",
                  "recipient_role", "channel", "reason", "until", "due_by", "start_date",
                  "end_date", "review_date", "late")


def escape_controls(text: str) -> str:
    """Control, format (bidi, zero-width) and line-separator characters as visible escapes, so
    a payload can neither drive the terminal nor rearrange or split the line it is shown on."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return "".join(out)


def describe(event: Event) -> str:
    """The event's facts without contact details: ids, kinds, states and dates only."""
    parts = []
    for name in _DETAIL_FIELDS:
        value = getattr(event, name, None)
        if value not in (None, False):
            parts.append(f"{name}={value}")
    state = getattr(event, "state", None)
    if state is not None and hasattr(state, "allows_leader_contact"):
        parts.append(f"leader_contact={state.allows_leader_contact}")
        parts.append(f"three_party={state.allows_three_party_meeting}")
    person = getattr(event, "person", None)
    if person is not None:
        parts.append(f"person_id={person.person_id}")
    return " ".join(parts)


def format_line(base_topic: str, record: Any, colour: bool) -> str:
    when = datetime.fromtimestamp(record.timestamp / 1000).strftime("%H:%M:%S.%f")[:-3]
    try:
        event = decode_event(record.value)
        text = (f"{getattr(event, 'type', '?'):28} course={event.course_id or '-':24} "
                f"{describe(event)}")
        code = COLOURS.get(base_topic.removesuffix(".dlq"), 0)
    except EventDecodeError as exc:
        text = f"{'(undecodable)':28} {exc.reason}"
        code = RED
    if base_topic.endswith(".dlq"):
        reason = dict(record.headers).get("dlq.reason", b"").decode(errors="replace")
        text = f"{text} dlq.reason={reason}"
        code = RED
    line = escape_controls(f"{when} {base_topic:24} {text}")
    return f"\x1b[{code}m{line}\x1b[0m" if colour and code else line


def matches(line_event: Event | None, course: str | None, types: Sequence[str]) -> bool:
    if line_event is None:
        return course is None and not types
    if course and line_event.course_id != course:
        return False
    return not types or any(getattr(line_event, "type", "").startswith(t) for t in types)


async def tail(settings: KafkaSettings, topics: Sequence[str], *, course: str | None,
               types: Sequence[str], from_beginning: bool, out: TextIO = sys.stdout,
               limit: int | None = None, idle_exit: float | None = None) -> int:
    names = Topics(settings.topic_prefix)
    full = {names.name(t): t for t in topics}
    shown = 0
    colour = out.isatty()
    async with reading(settings.aiokafka_kwargs(), *full,
                       from_beginning=from_beginning) as consumer:
        idle = 0.0
        async for batch in batches(consumer):
            if limit is not None and shown >= limit:
                break
            if not batch:
                idle += 0.5
                if idle_exit is not None and idle >= idle_exit:
                    break
                continue
            idle = 0.0
            for record in sorted(batch, key=lambda r: r.timestamp):
                try:
                    event: Event | None = decode_event(record.value)
                except EventDecodeError:
                    event = None
                if not matches(event, course, types):
                    continue
                print(format_line(full[record.topic], record, colour), file=out, flush=True)
                shown += 1
    return shown


def written_by(service: str) -> list[str]:
    """The topics a service writes: what it publishes, and the DLQs of what it reads."""
    with_dlq = {spec.name for spec in SPECS if spec.has_dlq}
    return published_by(service) + [f"{t}.dlq" for t in INPUTS[service] if t in with_dlq]


def topics_for(requested: Sequence[str], service: str | None) -> list[str]:
    chosen = list(requested) or list(DEFAULT_TOPICS)
    if service:
        mine = written_by(service)
        chosen = [t for t in chosen if t in mine] or mine
    return chosen


def run(requested: Sequence[str], service: str | None, course: str | None,
        types: Sequence[str], from_beginning: bool) -> int:
    try:
        asyncio.run(tail(KafkaSettings(), topics_for(requested, service), course=course,
                         types=types, from_beginning=from_beginning))
    except KeyboardInterrupt:
        pass
    return 0
