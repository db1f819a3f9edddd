"""The reports the reporting service publishes, as the portal keeps them: the latest report of
each key on the compacted `reports` topic (a tombstone removes one). Pure: records go in
through `apply`.

The reports arrive already anonymous ("<5" where a cell has fewer than 5 courses); the portal
only chooses which of them a person may see: management the organisation's figures, the team
lead those and the figures per psychologist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from services.reporting.domain.report import Audience, Report
from services.reporting.page import periods_of

# Who sees which reports: the organisation's figures for both, per psychologist for the team
# lead only.
AUDIENCES: dict[str, tuple[Audience, ...]] = {
    "management": ("management",),
    "team_lead": ("management", "team_lead"),
}


@dataclass
class ReportShelf:
    reports: dict[str, Report] = field(default_factory=dict)
    unreadable: int = 0

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode(errors="replace")
        if value is None:
            self.reports.pop(name, None)
            return
        try:
            self.reports[name] = Report.model_validate_json(value)
        except ValidationError:
            # A report of a newer shape than this portal knows: not shown, never a crash.
            self.unreadable += 1

    def visible_to(self, roles: frozenset[str]) -> dict[str, Report]:
        audiences = {a for role in roles for a in AUDIENCES.get(role, ())}
        return {k: r for k, r in self.reports.items() if r.audience in audiences}

    def periods(self) -> list[str]:
        return periods_of(self.reports)


def with_names(report: Report, name_of: Callable[[str], str]) -> Report:
    """The team lead's report with each psychologist's name instead of their person id."""
    rows = [row.model_copy(update={"name": name_of(row.name)}) if row.level == "psychologist"
            else row for row in report.rows]
    return report.model_copy(update={"rows": rows})
