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
from services.reporting.page import periods_of, render_page

ReportSource = Callable[[], Mapping[str, Report]]


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
