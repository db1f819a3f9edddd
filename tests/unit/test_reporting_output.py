"""CSV for Danish Excel, the SVG charts and the page."""

from __future__ import annotations

from xml.etree import ElementTree

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain.charts import Chart, Series, render_svg
from services.reporting.domain.export import BOM, rows_from_csv, to_csv
from services.reporting.domain.figures import FIGURES, Rules
from services.reporting.domain.periods import Period
from services.reporting.domain.report import SUPPRESSED, Report, ReportRow, reports_for_year
from services.reporting.page import render_page
from tests.reporting_fixture import AS_OF, CAL, COURSES, ORG

SVG = "{http://www.w3.org/2000/svg}"


def _value(kind: str) -> st.SearchStrategy[object]:
    number: st.SearchStrategy[object]
    if kind == "count":
        number = st.integers(0, 10**6)
    else:
        places = {"percent": 1, "median": 1, "mean": 2}[kind]
        number = st.integers(0, 10**7).map(lambda n: round(n / 10**places, places))
    return st.one_of(number, st.just(SUPPRESSED), st.none())


rows = st.lists(st.builds(
    ReportRow, level=st.sampled_from(["total", "administration", "unit"]),
    name=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=30),
    administration=st.one_of(st.none(), st.sampled_from(["Økonomi; og \"HR\"", "Børn & Unge"])),
    values=st.fixed_dictionaries({f.id: _value(f.kind) for f in FIGURES})), max_size=8)


@settings(max_examples=60, deadline=None)
@given(rows)
def test_csv_reads_back_as_written_with_danish_decimals(report_rows: list[ReportRow]) -> None:
    report = Report(period="2026-11", kind="month", audience="management", as_of=AS_OF,
                    figures=[f.id for f in FIGURES], rows=report_rows)
    data = to_csv(report)
    assert data.startswith(BOM.encode())
    assert rows_from_csv(data) == report_rows


def test_csv_is_semicolon_separated_with_decimal_commas() -> None:
    [report] = [r for r in reports_for_year(COURSES, ORG, 2026, Rules(CAL, AS_OF))
                if r.key == "management:2026-11"]
    lines = to_csv(report).decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("Periode;Niveau;Forvaltning;Navn;Forløb startet;")
    assert lines[1].startswith("2026-11;I alt;;;30;60,0;30,0;1,0;66,7;2,0;80,0;1,50;80,0;7;5;6;4")
    assert ";<5;" in to_csv(report).decode("utf-8-sig")


def test_a_chart_has_title_description_and_a_gap_for_a_missing_month() -> None:
    svg = render_svg(Chart("t", "Stress <andel>", "Beskrivelse", ("jan", "feb", "mar"),
                           (Series("Alle", (50.0, None, 60.0)),)))
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "t-title t-desc"
    assert root.find(f"{SVG}title").text == "Stress <andel>"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Beskrivelse"  # type: ignore[union-attr]
    assert len(root.findall(f"{SVG}path")) == 0  # two lone points, no line across the gap
    assert len(root.findall(f"{SVG}circle")) == 3  # two points and the legend's marker


def test_the_page_shows_figures_charts_and_tables_without_scripts() -> None:
    reports = {r.key: r for r in reports_for_year(COURSES, ORG, 2026, Rules(CAL, AS_OF))}
    html = render_page(reports, Period.parse("2026-11"), team_lead=False,
                       periods=["2026-11", "2026-Q4", "2026"], csv_href="?period=2026-11&format=csv")
    assert '<html lang="da">' in html and "<script" not in html
    assert html.count("<svg") == 2 and "<title id=\"stress-title\">" in html
    assert "&lt;5" in html and "psy-1" not in html
    team = render_page(reports, Period.parse("2026-11"), team_lead=True, periods=["2026-11"],
                       csv_href="x")
    assert "psy-1" in team


def test_a_period_without_courses_says_so() -> None:
    html = render_page({}, Period.parse("2025-01"), team_lead=False, periods=[], csv_href="x")
    assert "ingen rapport" in html
