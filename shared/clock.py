from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    """Time that starts at a given instant and runs `speed` times faster: for demos and tests."""

    def __init__(self, start: datetime, speed: float = 1.0, origin: float | None = None) -> None:
        self.start = start
        self.speed = speed
        # A shared wall-clock origin lets several processes agree on the same scaled time.
        self._origin = time.time() if origin is None else origin

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self._origin) * self.speed)


class ManualClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def clock_from_env() -> Clock:
    """LEDERKONTAKT_CLOCK_START (ISO instant), _SPEED and _ORIGIN (epoch seconds at which the
    clock showed START) replace real time."""
    start = os.environ.get("LEDERKONTAKT_CLOCK_START")
    if not start:
        return SystemClock()
    origin = os.environ.get("LEDERKONTAKT_CLOCK_ORIGIN")
    return ScaledClock(datetime.fromisoformat(start),
                       float(os.environ.get("LEDERKONTAKT_CLOCK_SPEED", "1")),
                       float(origin) if origin else None)


def sleep_until(clock: Clock, moment: datetime | None, at_most: float) -> float:
    """Real seconds to sleep to wake at `moment` on this clock, but no longer than `at_most`
    (and never less than 5 ms, so a moment that stays in the past cannot make a loop spin)."""
    if moment is None:
        return at_most
    ahead = (moment - clock.now()).total_seconds()
    if isinstance(clock, ScaledClock) and clock.speed > 0:
        ahead /= clock.speed
    elif not isinstance(clock, SystemClock):
        return at_most
    return min(at_most, max(0.005, ahead))
