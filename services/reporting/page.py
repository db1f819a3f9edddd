"""The reports page's content, as pure functions of the published reports: the figure tables,
the two trend charts with their data tables, and the HTML (a Jinja template) a web app serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.reporting.domain.charts import Chart, Series, render_svg
from services.reporting.domain.export import LEVELS_DA, format_value
from services.reporting.domain.figures import CASELOAD, FIGURES, Figure
from services.reporting.domain.periods import Period
from services.reporting.domain.report import SUPPRESSED, Report

MONTHS_DA = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
_FIGURES: dict[str, Figure] = {f.id: f for f in (*FIGURES, CASELOAD)}
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"]))


@dataclass(frozen=True)
class TableView:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[str, ...]], ...]  # level label, name, cells


@dataclass(frozen=True)
class ChartView:
    svg: Markup
    table: TableView


def table_view(report: Report, caption: str) -> TableView:
    figures = [_FIGURES[f] for f in report.figures]
    rows = tuple(
        (LEVELS_DA[r.level], r.name or "I alt",
         tuple(format_value(f, r.values.get(f.id)) or "–" for f in figures))
        for r in report.rows)
    return TableView(caption, tuple(f"{f.da} / {f.en}" for f in figures), rows)


def _month_reports(reports: Mapping[str, Report], year: int) -> list[Report | None]:
    return [reports.get(f"management:{year}-{m:02d}") for m in range(1, 13)]


def _series(months: Sequence[Report | None], level: str, name: str, figure: str
            ) -> tuple[float | None, ...]:
    values: list[float | None] = []
    for report in months:
        value = None
        if report is not None:
            for row in report.rows:
                if row.level == level and row.name == name:
                    v = row.values.get(figure)
                    value = float(v) if isinstance(v, int | float) else None
        values.append(value)
    return tuple(values)


def _chart_view(chart: Chart) -> ChartView:
    columns = tuple(chart.x_labels)
    rows = tuple(
        ("", s.name, tuple("–" if v is None else f"{v:.1f}".replace(".", ",") for v in s.values))
        for s in chart.series)
    return ChartView(Markup(render_svg(chart)), TableView(chart.title, columns, rows))


def trend_charts(reports: Mapping[str, Report], year: int) -> list[ChartView]:
    """Stress-related share by month (all courses), and start calls on time by administration."""
    months = _month_reports(reports, year)
    labels = MONTHS_DA
    stress = Chart(
        "stress", f"Stressrelaterede forløb, andel pr. måned {year}",
        f"Andelen af forløb startet hver måned i {year}, der er stressrelaterede, i procent. "
        f"Måneder uden tal eller med færre end 5 forløb står som huller; tallene står i "
        f"tabellen under grafen.",
        labels, (Series("Alle forløb", _series(months, "total", "", "stress_related_pct")),))
    admins: list[str] = []
    for report in months:
        if report is not None:
            admins = [r.name for r in report.rows if r.level == "administration"]
    on_time = Chart(
        "start-call", f"Opstartssamtale med leder til tiden, pr. forvaltning {year}",
        f"Andelen af opstartssamtaler med leder, der blev holdt inden fristen, for forløb "
        f"startet hver måned i {year}, en linje pr. forvaltning. Huller er måneder uden tal "
        f"eller med færre end 5 forløb; tallene står i tabellen under grafen.",
        labels, tuple(Series(a, _series(months, "administration", a, "start_call_on_time_pct"))
                      for a in admins))
    return [_chart_view(stress), _chart_view(on_time)]


def periods_of(reports: Mapping[str, Report]) -> list[str]:
    """The periods with a management report, newest year first; in a year the months (newest
    first, the default choice of the page), then the quarters, then the year."""
    found = [Period.parse(r.period) for r in reports.values() if r.audience == "management"]
    return [str(p) for p in sorted(found, key=lambda p: (p.year, p.kind == "month",
                                                         p.kind == "quarter", p.number),
                                   reverse=True)]


def render_content(reports: Mapping[str, Report], period: Period, *, team_lead: bool,
                   periods: Sequence[str], csv_href: str,
                   team_csv_href: str | None = None) -> Markup:
    """The page's content, for any layout. Management sees the anonymous figures; the team lead
    also the compliance figures per psychologist."""
    management = reports.get(f"management:{period}")
    team = reports.get(f"team_lead:{period}") if team_lead else None
    return Markup(_ENV.get_template("reports_content.html.j2").render(
        period=str(period), periods=periods, csv_href=csv_href, team_csv_href=team_csv_href,
        suppressed=SUPPRESSED,
        management=table_view(management, f"Nøgletal {period}") if management else None,
        team=table_view(team, f"Pr. psykolog {period} (kun teamleder)") if team else None,
        charts=trend_charts(reports, period.year),
        as_of=management.as_of.isoformat() if management else None))


def render_page(reports: Mapping[str, Report], period: Period, *, team_lead: bool,
                periods: Sequence[str], csv_href: str) -> str:
    """The content in a page of its own."""
    content = render_content(reports, period, team_lead=team_lead, periods=periods,
                             csv_href=csv_href)
    return _ENV.get_template("reports.html.j2").render(period=str(period), content=content)
