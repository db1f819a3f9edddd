"""What became of each notification id: the record that makes a repeat send nothing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events import Channel, NotificationRequested

LedgerState = Literal["sent", "suppressed", "failed", "deferred", "retrying"]
TERMINAL: frozenset[LedgerState] = frozenset({"sent", "suppressed", "failed"})


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: str
    state: LedgerState
    channel: Channel | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    attempts: int = 0
    due_at: datetime | None = None
    # Kept only while the notification waits (quiet hours, retry), so it can be sent later.
    request: NotificationRequested | None = None
    # The course the notification was about (none for a digest), and from when the entry's
    # retention counts: the moment its course closed, or a digest's settling.
    course_id: str | None = None
    closed_at: datetime | None = None
    # Set only on a request parked because the role it names may still reach its course's
    # record (the gate has not let it through): when it was first parked, from which its
    # horizon counts. Its next try goes through the whole gate again.
    awaiting_members_since: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def for_retention(entry: LedgerEntry, request: NotificationRequested,
                  now: datetime) -> LedgerEntry:
    """The entry with what its retention needs: the request's course, or for a settled request
    of no course (a digest) the moment it settled."""
    closed_at = now if request.course_id is None and entry.terminal else None
    return entry.model_copy(update={"course_id": request.course_id, "closed_at": closed_at})


def closed_since(entry: LedgerEntry, course_closed_at: datetime | None) -> LedgerEntry | None:
    """A settled entry stamped with the moment its course closed, once that is known, so its
    retention counts from then; None when there is nothing to stamp. An entry still waiting
    is left alone: it settles (suppressed, its course being closed) and is stamped then."""
    if not entry.terminal or entry.closed_at is not None or course_closed_at is None:
        return None
    return entry.model_copy(update={"closed_at": course_closed_at})


def expires_from(entry: LedgerEntry) -> datetime | None:
    """Only a settled entry goes: a waiting one holds a request still to be sent."""
    return entry.closed_at if entry.terminal else None


def retry_delay(attempt: int, retry_after: float | None, base: float = 2.0, cap: float = 300.0,
                rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def retry_at(now: datetime, attempt: int, retry_after: float | None, base: float = 2.0) -> datetime:
    return now + timedelta(seconds=retry_delay(attempt, retry_after, base))
