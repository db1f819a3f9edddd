"""From course facts to the published reports: every period of a year at once, so one
suppression pattern covers the months, the quarters and the year together."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.reporting.domain.anonymity import MIN_COURSES, Equation, equations_over, suppress
from services.reporting.domain.facts import CourseFacts
from services.reporting.domain.figures import (
    CASELOAD,
    FIGURES,
    TEAM_LEAD_FIGURES,
    Derived,
    Figure,
    Rules,
    derive,
    open_on,
)
from services.reporting.domain.orgunits import OTHER, OrgUnits
from services.reporting.domain.periods import Period, PeriodKind, month_of, periods_of_year

SUPPRESSED = "<5"
Audience = Literal["management", "team_lead"]
Level = Literal["total", "administration", "unit", "team", "psychologist"]
Row = tuple[Level, str]
Cell = tuple[Row, Period]
Published = int | float | str | None
TOTAL: Row = ("total", "")
TEAM: Row = ("team", "")
UNASSIGNED = "unassigned"


class ReportRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Level
    name: str
    administration: str | None = None
    values: dict[str, Published]


class Report(BaseModel):
    """One period's figures for one audience, with small cells already shown as "<5"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: str
    kind: PeriodKind
    audience: Audience
    as_of: date
    figures: list[str]
    rows: list[ReportRow]

    @property
    def key(self) -> str:
        return f"{self.audience}:{self.period}"


@dataclass
class Table:
    """A year's two-way table: courses per cell, which cells are hidden, and the equations the
    hiding had to respect (kept for the anonymity proof in the tests)."""

    rows: list[Row]
    periods: list[Period]
    courses: dict[Cell, list[Derived]] = field(default_factory=dict)
    equations: list[Equation[Cell]] = field(default_factory=list)
    hidden: set[Cell] = field(default_factory=set)

    def counts(self) -> dict[Cell, int]:
        return {(r, p): len(self.courses.get((r, p), [])) for r in self.rows for p in self.periods}


def _column_equations(year: int) -> list[tuple[Period, tuple[Period, ...]]]:
    return [(p, p.parts) for p in periods_of_year(year) if p.parts]


def _fill(table: Table, placed: Iterable[tuple[Iterable[Row], Period, Derived]]) -> None:
    for rows, month, derived in placed:
        quarter = Period(month.year, "quarter", (month.number + 2) // 3)
        year = Period(month.year, "year", 1)
        for row in rows:
            for period in (month, quarter, year):
                table.courses.setdefault((row, period), []).append(derived)


def management_table(facts: Iterable[CourseFacts], org: OrgUnits, year: int, rules: Rules
                     ) -> Table:
    rows: list[Row] = [TOTAL]
    row_sums: list[tuple[Row, tuple[Row, ...]]] = []
    admin_rows: list[Row] = []
    for admin, units in org.rows():
        admin_row: Row = ("administration", admin)
        unit_rows: tuple[Row, ...] = tuple(("unit", u) for u in units)
        rows.append(admin_row)
        rows.extend(unit_rows)
        admin_rows.append(admin_row)
        row_sums.append((admin_row, unit_rows))
    row_sums.insert(0, (TOTAL, tuple(admin_rows)))
    table = Table(rows, periods_of_year(year))
    known = set(org.units)

    def placed() -> Iterable[tuple[Iterable[Row], Period, Derived]]:
        for f in facts:
            if not f.counted or f.start_date is None or f.start_date.year != year:
                continue
            unit = f.unit if f.unit in known else OTHER
            admin = org.administration_of(unit)
            yield ((TOTAL, ("administration", admin), ("unit", unit)),
                   month_of(f.start_date), derive(f, rules))

    _fill(table, placed())
    table.equations = equations_over(row_sums, _column_equations(year), table.rows,
                                     table.periods)
    table.hidden = suppress(table.counts(), table.equations)
    return table


def team_lead_tables(facts: Iterable[CourseFacts], year: int, rules: Rules
                     ) -> tuple[Table, Table]:
    """The cohort table per psychologist (courses started in the period) and the caseload
    table (courses open at the period's end), each with its own suppression."""
    facts = list(facts)
    psychologists = sorted({f.psychologist_id or UNASSIGNED for f in facts if f.counted})
    person_rows: list[Row] = [("psychologist", p) for p in psychologists]
    rows = [TEAM, *person_rows]
    cohort = Table(rows, periods_of_year(year))

    def placed() -> Iterable[tuple[Iterable[Row], Period, Derived]]:
        for f in facts:
            if f.counted and f.start_date is not None and f.start_date.year == year:
                person: Row = ("psychologist", f.psychologist_id or UNASSIGNED)
                yield (TEAM, person), month_of(f.start_date), derive(f, rules)

    _fill(cohort, placed())
    cohort.equations = equations_over([(TEAM, tuple(person_rows))], _column_equations(year),
                                      rows, cohort.periods)
    cohort.hidden = suppress(cohort.counts(), cohort.equations)

    caseload = Table(rows, periods_of_year(year))
    counted = [(f, derive(f, rules)) for f in facts if f.counted]
    for period in caseload.periods:
        day = min(period.last_day, rules.as_of)
        for f, derived in counted:
            if open_on(f, day):
                who: Row = ("psychologist", f.psychologist_id or UNASSIGNED)
                for row in (TEAM, who):
                    caseload.courses.setdefault((row, period), []).append(derived)
    # A caseload is a stock, not a flow: the months do not add up to the quarter, so only the
    # team's total binds the psychologists' cells.
    caseload.equations = equations_over([(TEAM, tuple(person_rows))], [], rows,
                                        caseload.periods)
    caseload.hidden = suppress(caseload.counts(), caseload.equations)
    return cohort, caseload


def _value(figure: Figure, table: Table, cell: Cell) -> Published:
    if cell in table.hidden:
        return SUPPRESSED
    courses = table.courses.get(cell, [])
    value, base = figure.compute(courses)
    if figure.kind == "count" and not courses:
        return 0
    if base == 0:
        return None
    if base < MIN_COURSES:
        return SUPPRESSED
    return value


def _row_model(row: Row, values: dict[str, Published], org: OrgUnits | None) -> ReportRow:
    level, name = row
    admin = org.administration_of(name) if org is not None and level == "unit" else None
    return ReportRow(level=level, name=name, administration=admin, values=values)


def reports_for_year(facts: Iterable[CourseFacts], org: OrgUnits, year: int, rules: Rules
                     ) -> list[Report]:
    """Every report of a year up to the report day: management per month, quarter and year, and
    the team lead's per psychologist."""
    facts = list(facts)
    management = management_table(facts, org, year, rules)
    cohort, caseload = team_lead_tables(facts, year, rules)
    reports: list[Report] = []
    for period in management.periods:
        if period.first_day > rules.as_of:
            continue
        rows = [_row_model(r, {f.id: _value(f, management, (r, period)) for f in FIGURES}, org)
                for r in management.rows]
        reports.append(Report(period=str(period), kind=period.kind, audience="management",
                              as_of=rules.as_of, figures=[f.id for f in FIGURES], rows=rows))
        team_rows = []
        for r in cohort.rows:
            values = {f.id: _value(f, cohort, (r, period)) for f in TEAM_LEAD_FIGURES
                      if f is not CASELOAD}
            values[CASELOAD.id] = _value(CASELOAD, caseload, (r, period))
            team_rows.append(_row_model(r, values, None))
        reports.append(Report(period=str(period), kind=period.kind, audience="team_lead",
                              as_of=rules.as_of, figures=[f.id for f in TEAM_LEAD_FIGURES],
                              rows=team_rows))
    return reports


def years_with_courses(facts: Iterable[CourseFacts]) -> list[int]:
    return sorted({f.start_date.year for f in facts if f.counted and f.start_date is not None})
