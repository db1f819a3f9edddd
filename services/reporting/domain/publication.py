"""Which reports to (re)build: every year with courses, except years whose oldest facts may
already have been deleted. Those reports stay on the `reports` topic as they were last built."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from services.reporting.domain.facts import CourseFacts
from services.reporting.domain.figures import Rules
from services.reporting.domain.orgunits import OrgUnits
from services.reporting.domain.report import Report, reports_for_year, years_with_courses


def frozen(year: int, today: date, retention: timedelta) -> bool:
    """A course's facts are deleted `retention` after it ends, at the earliest `retention`
    after 1 January of the year it started: from then on the year's figures would shrink."""
    return today - retention > date(year, 1, 1)


def build_reports(facts: Iterable[CourseFacts], org: OrgUnits, rules: Rules,
                  retention: timedelta) -> list[Report]:
    facts = list(facts)
    reports: list[Report] = []
    for year in years_with_courses(facts):
        if not frozen(year, rules.as_of, retention):
            reports.extend(reports_for_year(facts, org, year, rules))
    return reports
