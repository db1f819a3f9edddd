"""What to do with a notification now: suppress it, defer it, or send it on a channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from services.notifier.domain.channels import choose_channel, sms_send_at
from services.notifier.domain.gate import decide
from services.notifier.domain.ledger import retry_at
from services.notifier.domain.membership import CourseMembers
from shared.events import Channel, ConsentState, NotificationRequested, Person


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
                  ) -> Suppress | Defer | Send:
    """Membership and consent first, as they stand now; then the recipient's channel; an SMS waits out the
    quiet hours unless its deadline comes first."""
    decision = decide(request, recipient, consent, members)
    if not decision.allowed or recipient is None:
        return Suppress(decision.reason or "recipient_unknown_or_erased")
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
