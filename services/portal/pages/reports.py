"""Team leads and management: the anonymous reports, their trend charts and the CSV download.

The page draws what the reporting service last published on the `reports` topic, with the
reporting service's own renderer, so the portal and `lederkontakt report` always agree."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.auth import Identity
from services.portal.config import Role
from services.portal.domain.reports import AUDIENCES, with_names
from services.portal.i18n import translate
from services.portal.web import language, portal_of, render, require
from services.reporting.domain.export import to_csv
from services.reporting.domain.periods import Period
from services.reporting.domain.report import UNASSIGNED, Report
from services.reporting.page import render_content

router = APIRouter()
READERS: tuple[Role, ...] = ("team_lead", "management")


def _visible(request: Request, me: Identity) -> dict[str, Report]:
    """The reports this person may see, psychologists named as the portal knows them."""
    portal = portal_of(request)
    unassigned = translate(language(request), "reports.unassigned")

    def name_of(person_id: str) -> str:
        return unassigned if person_id == UNASSIGNED else portal.view.name_of(person_id)

    return {key: with_names(report, name_of) if report.audience == "team_lead" else report
            for key, report in portal.reports.visible_to(me.roles).items()}


def _period(text: str | None, periods: list[str]) -> Period | None:
    try:
        return Period.parse(text) if text else Period.parse(periods[0]) if periods else None
    except ValueError:
        raise HTTPException(status_code=404) from None


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request,
                       period: str | None = Query(default=None, max_length=10)) -> Response:
    me = require(request, *READERS)
    reports = _visible(request, me)
    chosen = _period(period, portal_of(request).reports.periods())
    content = None
    if chosen is not None:
        team = f"team_lead:{chosen}" in reports
        content = render_content(
            reports, chosen, team_lead=team, periods=portal_of(request).reports.periods(),
            csv_href=f"/reports/csv?period={chosen}",
            team_csv_href=f"/reports/csv?period={chosen}&audience=team_lead" if team else None)
    return render(request, "reports.html", {"content": content})


@router.get("/reports/csv")
async def reports_csv(request: Request, period: str = Query(max_length=10),
                      audience: str = Query(default="management", max_length=10)) -> Response:
    me = require(request, *READERS)
    if audience not in {a for role in me.roles for a in AUDIENCES.get(role, ())}:
        raise HTTPException(status_code=403)
    chosen = _period(period, [])
    report = _visible(request, me).get(f"{audience}:{chosen}")
    if report is None:
        raise HTTPException(status_code=404)
    suffix = "-pr-psykolog" if audience == "team_lead" else ""
    return Response(to_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="lederkontakt-{chosen}{suffix}.csv"'})
