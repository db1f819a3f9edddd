"""What the delivery adapters share: how they fail, and how fast they may go."""

from __future__ import annotations

import asyncio
import time


class TemporaryFailure(Exception):
    """Worth trying again later (4xx SMTP, time-outs, refused connections, SMS 429/5xx).
    `maybe_delivered`: the whole message was handed over and the connection was lost before
    the answer came, so the provider may have taken it: trying again may deliver it twice."""

    def __init__(self, reason: str, retry_after: float | None = None,
                 maybe_delivered: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class PermanentFailure(Exception):
    """Trying again will not help (5xx SMTP, SMS 4xx other than 429)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimiter:
    """At most `per_second` calls a second, spaced evenly; 0 means no limit."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self.interval
