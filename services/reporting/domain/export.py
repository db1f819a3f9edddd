"""Reports as CSV that Danish Excel opens as it should: UTF-8 with a byte order mark (else Excel
guesses a code page and mangles æøå), semicolons between fields (the comma is the decimal
sign), decimal commas, CRLF line ends."""

from __future__ import annotations

import csv
import io

from services.reporting.domain.figures import CASELOAD, FIGURES, Figure
from services.reporting.domain.report import SUPPRESSED, Published, Report, ReportRow

BOM = "\ufeff"
DECIMALS = {"count": 0, "percent": 1, "median": 1, "mean": 2}
_BY_ID: dict[str, Figure] = {f.id: f for f in (*FIGURES, CASELOAD)}
_BY_LABEL: dict[str, Figure] = {f.da: f for f in (*FIGURES, CASELOAD)}
LEADING = ["Periode", "Niveau", "Forvaltning", "Navn"]
LEVELS_DA = {"total": "I alt", "administration": "Forvaltning", "unit": "Enhed", "team": "Team",
             "psychologist": "Psykolog"}
_LEVELS = {v: k for k, v in LEVELS_DA.items()}


def format_value(figure: Figure, value: Published) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if figure.kind == "count":
        return str(int(value))
    return f"{value:.{DECIMALS[figure.kind]}f}".replace(".", ",")


def parse_value(figure: Figure, text: str) -> Published:
    if text == "":
        return None
    if text == SUPPRESSED:
        return SUPPRESSED
    if figure.kind == "count":
        return int(text)
    return float(text.replace(",", "."))


def to_csv(report: Report) -> bytes:
    figures = [_BY_ID[f] for f in report.figures]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([*LEADING, *(f.da for f in figures)])
    for row in report.rows:
        writer.writerow([report.period, LEVELS_DA[row.level], row.administration or "", row.name,
                         *(format_value(f, row.values.get(f.id)) for f in figures)])
    return (BOM + out.getvalue()).encode("utf-8")


def rows_from_csv(data: bytes) -> list[ReportRow]:
    """The rows of a report as read back from its CSV (used to prove the round trip)."""
    text = data.decode("utf-8")
    if not text.startswith(BOM):
        raise ValueError("CSV without byte order mark")
    reader = csv.reader(io.StringIO(text[len(BOM):], newline=""), delimiter=";")
    header = next(reader)
    figures = [_BY_LABEL[label] for label in header[len(LEADING):]]
    rows: list[ReportRow] = []
    for line in reader:
        _, level, admin, name, *cells = line
        rows.append(ReportRow(level=_LEVELS[level], name=name,
                              administration=admin or None,
                              values={f.id: parse_value(f, c) for f, c in zip(figures, cells,
                                                                               strict=True)}))
    return rows
