"""Danish working days in Europe/Copenhagen time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def default_extra_days_off(year: int) -> frozenset[date]:
    """Days most Danish workplaces close although they are not public holidays."""
    return frozenset({date(year, 12, 24), date(year, 12, 31), date(year, 6, 5)})


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("DK", years=year).keys())


class WorkingDayCalendar:
    """Weekends, Danish public holidays and a configurable set of extra days off are not working days."""

    def __init__(self, extra_days_off: Iterable[date] | None = None) -> None:
        self._extra: frozenset[date] | None = (
            frozenset(extra_days_off) if extra_days_off is not None else None
        )

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in _public_holidays(day.year):
            return False
        extra = self._extra if self._extra is not None else default_extra_days_off(day.year)
        return day not in extra

    def add_working_days(self, day: date, count: int) -> date:
        """The date `count` working days after `day` (before it for a negative count)."""
        step = 1 if count >= 0 else -1
        remaining = abs(count)
        current = day
        while remaining:
            current += timedelta(days=step)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count

    def next_working_moment(self, at: datetime, at_time: time) -> datetime:
        """The first `at_time` (Copenhagen wall clock) on a working day that is not before `at`."""
        local = at.astimezone(COPENHAGEN)
        day = local.date()
        while True:
            if self.is_working_day(day):
                candidate = at_wall_clock(day, at_time)
                if candidate >= at:
                    return candidate
            day += timedelta(days=1)


def at_wall_clock(day: date, at_time: time) -> datetime:
    """`at_time` on `day` in Copenhagen, as an aware datetime (the UTC offset follows DST)."""
    return datetime.combine(day, at_time, tzinfo=COPENHAGEN)


def local_date(at: datetime) -> date:
    return at.astimezone(COPENHAGEN).date()
