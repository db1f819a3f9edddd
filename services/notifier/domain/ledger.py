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

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def retry_delay(attempt: int, retry_after: float | None, base: float = 2.0, cap: float = 300.0,
                rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def retry_at(now: datetime, attempt: int, retry_after: float | None, base: float = 2.0) -> datetime:
    return now + timedelta(seconds=retry_delay(attempt, retry_after, base))
