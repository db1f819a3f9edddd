"""Which channel a message takes, and when an SMS may be sent."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from shared.calendar import COPENHAGEN
from shared.events import Channel, Person


def choose_channel(person: Person) -> Channel | None:
    """The person's preferred channel if they have it, else e-mail, else SMS."""
    available: list[Channel] = []
    if person.email:
        available.append("email")
    if person.phone:
        available.append("sms")
    if person.preferred_channel in available:
        return person.preferred_channel
    return available[0] if available else None


def quiet_until(now: datetime, quiet_from: time = time(20, 0),
                quiet_to: time = time(8, 0)) -> datetime | None:
    """The end of the quiet hours `now` falls in (Copenhagen time), or None outside them."""
    local = now.astimezone(COPENHAGEN)
    if quiet_to <= local.time() < quiet_from:
        return None
    day = local.date() if local.time() < quiet_to else local.date() + timedelta(days=1)
    return datetime.combine(day, quiet_to, tzinfo=COPENHAGEN)


def sms_send_at(now: datetime, deadline: datetime | None,
                quiet_from: time = time(20, 0), quiet_to: time = time(8, 0)) -> datetime:
    """An SMS waits for the end of quiet hours, unless its deadline would pass first."""
    until = quiet_until(now, quiet_from, quiet_to)
    if until is None or (deadline is not None and deadline <= until):
        return now
    return until
