"""What to do with a notification now: suppress it, defer it, or send it on a channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from services.notifier.domain.channels import choose_channel, sms_send_at
from services.notifier.domain.gate import decide
from services.notifier.domain.ledger import retry_at
from services.notifier.domain.membership import CourseMembers
from shared.events import Channel, ConsentState, NotificationRequested, Person
from shared.notification_kinds import DIGESTED_KINDS, KINDS, STAFF_ROLES


def wants_digest(person: Person) -> bool:
    """Staff get the morning digest instead of the single reminders unless they asked for each
    reminder on its own; it needs an e-mail address, so someone without one keeps the single
    reminders on their channel. Callers ask only about staff: leaders always get single messages."""
    return person.reminders != "each" and person.email is not None


@dataclass(frozen=True)
class Suppress:
    reason: str


@dataclass(frozen=True)
class Defer:
    channel: Channel
    until: datetime
    reason: str


@dataclass(frozen=True)
class Send:
    channel: Channel
    recipient: Person


def plan_delivery(request: NotificationRequested, recipient: Person | None,
                  consent: ConsentState | None, members: CourseMembers | None, now: datetime,
                  quiet_from: time = time(20, 0), quiet_to: time = time(8, 0),
                  own: bool = False) -> Suppress | Defer | Send:
    """Membership and consent first, as they stand now; then the recipient's channel; an SMS waits out the
    quiet hours unless its deadline comes first."""
    decision = decide(request, recipient, consent, members, own)
    if not decision.allowed or recipient is None:
        return Suppress(decision.reason or "recipient_unknown_or_erased")
    if request.kind in DIGESTED_KINDS and request.recipient_role in STAFF_ROLES \
            and wants_digest(recipient):
        return Suppress("in_daily_digest")
    channel: Channel | None
    if request.kind == "daily_digest":
        # A long list for a mailbox, never an SMS.
        channel = "email" if recipient.email else None
    elif KINDS[request.kind].calendar is not None and recipient.email:
        # Only a mail can carry the invitation into a calendar; without an address, the SMS
        # still tells the time.
        channel = "email"
    else:
        channel = choose_channel(recipient)
    if channel is None:
        return Suppress("no_contact_channel")
    if channel == "sms":
        send_at = sms_send_at(now, request.deadline, quiet_from, quiet_to)
        if send_at > now:
            return Defer(channel, send_at, "quiet_hours")
    return Send(channel, recipient)


def retry_moment(attempts: int, max_attempts: int, now: datetime, retry_after: float | None,
                 base_seconds: float) -> datetime | None:
    """When to try again after a temporary failure, or None once the retry budget is spent."""
    if attempts >= max_attempts:
        return None
    return retry_at(now, attempts, retry_after, base_seconds)
