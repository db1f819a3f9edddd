"""Team leads: every psychologist's overdue points and every course (reassigning is a course
action, on the course page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.domain.views import PointRow
from services.portal.web import portal_of, render, require
from shared.calendar import local_date

router = APIRouter()


@router.get("/overview", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    require(request, "team_lead")
    portal = portal_of(request)
    view = portal.view
    today = local_date(portal.clock.now())
    courses = view.courses_of_psychologist(None)
    by_psychologist: dict[str, list[PointRow]] = {}
    for point in view.open_points(courses):
        if point.state == "overdue" or (point.due_by < today and point.state != "blocked"):
            owner = view.courses[point.course_id].psychologist_id or ""
            by_psychologist.setdefault(owner, []).append(point)
    return render(request, "overview.html", {
        "overdue": sorted(by_psychologist.items()), "courses": courses, "view": view,
        "today": today})
