"""The reports page served by the reporting service itself (management's anonymous figures):
the page, the period picker (a GET form) and the CSV download. It shows what the service last
published; the team lead's figures per psychologist need a login, so they are not served here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting.domain.export import to_csv
from services.reporting.domain.periods import Period
from services.reporting.domain.report import Report
from services.reporting.page import render_page

ReportSource = Callable[[], Mapping[str, Report]]


def periods_of(reports: Mapping[str, Report]) -> list[str]:
    """The periods with a management report, newest first (months, then quarters, then years)."""
    found = [Period.parse(r.period) for r in reports.values() if r.audience == "management"]
    return [str(p) for p in sorted(found, key=lambda p: (p.year, p.kind != "month",
                                                         p.kind == "year", p.number),
                                   reverse=True)]


def create_web_app(source: ReportSource) -> FastAPI:
    app = FastAPI(title="lederkontakt reports", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    async def home() -> Response:
        return RedirectResponse("/reports", status_code=303)

    @app.get("/reports")
    async def reports_page(period: str | None = Query(default=None, max_length=10),
                           format: str | None = Query(default=None, max_length=4)) -> Response:
        reports = source()
        periods = periods_of(reports)
        try:
            chosen = Period.parse(period) if period else Period.parse(periods[0])
        except (ValueError, IndexError):
            return HTMLResponse("<!doctype html><html lang=\"da\"><title>Rapporter</title>"
                                "<main><h1>Rapporter</h1><p>Ingen rapporter endnu.</p></main>"
                                "</html>", status_code=200 if not period else 404)
        if format == "csv":
            report = reports.get(f"management:{chosen}")
            if report is None:
                return Response("no report for this period", status_code=404)
            return Response(to_csv(report), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="lederkontakt-{chosen}.csv"'})
        return HTMLResponse(render_page(reports, chosen, team_lead=False, periods=periods,
                                        csv_href=f"/reports?period={chosen}&format=csv"))

    return app
