"""Report periods: a month (2026-11), a quarter (2026-Q4) or a year (2026)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["month", "quarter", "year"]
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: PeriodKind
    number: int  # month 1-12, quarter 1-4, 1 for the year

    @classmethod
    def parse(cls, text: str) -> Period:
        text = text.strip().upper()
        if m := _MONTH.match(text):
            return cls(int(m[1]), "month", int(m[2]))
        if m := _QUARTER.match(text):
            return cls(int(m[1]), "quarter", int(m[2]))
        if m := _YEAR.match(text):
            return cls(int(m[1]), "year", 1)
        raise ValueError(f"not a period: {text!r} (use 2026-11, 2026-Q4 or 2026)")

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return str(self.year)

    @property
    def first_day(self) -> date:
        month = {"month": self.number, "quarter": 3 * self.number - 2, "year": 1}[self.kind]
        return date(self.year, month, 1)

    @property
    def last_day(self) -> date:
        month = {"month": self.number, "quarter": 3 * self.number, "year": 12}[self.kind]
        following = date(self.year + 1, 1, 1) if month == 12 else date(self.year, month + 1, 1)
        return following - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    @property
    def parts(self) -> tuple[Period, ...]:
        """The periods this one is the sum of: a year's quarters, a quarter's months."""
        if self.kind == "year":
            return tuple(Period(self.year, "quarter", q) for q in range(1, 5))
        if self.kind == "quarter":
            return tuple(Period(self.year, "month", m) for m in range(3 * self.number - 2,
                                                                       3 * self.number + 1))
        return ()


def periods_of_year(year: int) -> list[Period]:
    return ([Period(year, "month", m) for m in range(1, 13)]
            + [Period(year, "quarter", q) for q in range(1, 5)] + [Period(year, "year", 1)])


def month_of(day: date) -> Period:
    return Period(day.year, "month", day.month)
