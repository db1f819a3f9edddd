"""Psychologists (and team leads): the worklist, a course page with its timeline, and the
course actions, each a POST that publishes one event on `sessions`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.auth import Identity
from services.portal.bus import form_event_id
from services.portal.domain.forms import (
    ACTIONS,
    MEETING_MINUTES,
    TEAM_LEAD_ACTIONS,
    ActionContext,
    Form,
    FormInvalid,
)
from services.portal.domain.views import CourseRow, TimelineEntry, worklist
from services.portal.i18n import translate_or_raw
from services.portal.web import flash, language, portal_of, render, require
from shared.calendar import COPENHAGEN, local_date
from shared.events import Event

router = APIRouter()


def course_for(request: Request, me: Identity, course_id: str) -> CourseRow:
    """The course, if this person may see it: a team lead sees every course, a psychologist
    only those assigned to them. Everyone else gets 403 before learning whether it exists."""
    course = portal_of(request).view.courses.get(course_id)
    if "team_lead" in me.roles:
        if course is None:
            raise HTTPException(status_code=404)
        return course
    if course is None or course.psychologist_id != me.person_id:
        raise HTTPException(status_code=403)
    return course


@router.get("/worklist", response_class=HTMLResponse)
async def worklist_page(request: Request) -> Response:
    me = require(request, "psychologist")
    portal = portal_of(request)
    courses = portal.view.courses_of_psychologist(me.person_id)
    today = local_date(portal.clock.now())
    return render(request, "worklist.html", {
        "work": worklist(portal.view.open_points(courses), today), "courses": courses,
        "view": portal.view, "today": today})


def render_course(request: Request, me: Identity, course: CourseRow,
                  errors: dict[str, dict[str, str]] | None = None, failed: str = "",
                  status_code: int = 200) -> Response:
    portal = portal_of(request)
    view = portal.view
    lang = language(request)

    def detail(entry: TimelineEntry) -> str:
        if entry.what == "psychologist.assigned":
            return view.name_of(entry.detail)
        return ", ".join(translate_or_raw(lang, f"detail.{part}")
                         for part in entry.detail.split(":"))

    points = sorted(view.points.get(course.course_id, {}).values(), key=lambda p: p.due_by)
    return render(request, "course.html", {
        "course": course, "view": view, "points": points,
        "consent": view.consents.get(course.course_id),
        "timeline": view.timeline(course.course_id), "detail": detail, "tz": COPENHAGEN,
        "meetings": view.upcoming_meetings(course.course_id),
        "meeting_minutes": MEETING_MINUTES,
        "can_act": course.status == "open", "can_reassign": "team_lead" in me.roles,
        "psychologists": portal.psychologists, "form_key": uuid.uuid4().hex,
        "errors": errors or {}, "action_errors_for": failed}, status_code)


@router.get("/courses/{course_id}", response_class=HTMLResponse)
async def course_page(request: Request, course_id: str) -> Response:
    me = require(request, "psychologist", "team_lead")
    return render_course(request, me, course_for(request, me, course_id))


@router.post("/courses/{course_id}/actions/{action}")
async def course_action(request: Request, course_id: str, action: str) -> Response:
    me = require(request, "psychologist", "team_lead")
    return await _act(request, me, course_id, action, ACTIONS)


@router.post("/courses/{course_id}/reassign")
async def reassign(request: Request, course_id: str) -> Response:
    me = require(request, "team_lead")
    return await _act(request, me, course_id, "reassign", TEAM_LEAD_ACTIONS)


async def _act(request: Request, me: Identity, course_id: str, action: str,
               table: Mapping[str, Callable[[Form, ActionContext], Event]]) -> Response:
    course = course_for(request, me, course_id)
    build = table.get(action)
    if build is None:
        raise HTTPException(status_code=404)
    portal = portal_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    context = ActionContext(course.course_id,
                            form_event_id(me.person_id, form.get("form_key") or uuid.uuid4().hex),
                            portal.clock.now(), portal.assignable)
    if course.status != "open":
        return render_course(request, me, course, {action: {"form": "error.closed"}}, action, 409)
    try:
        event = build(form, context)
    except FormInvalid as exc:
        return render_course(request, me, course, {action: exc.errors}, action, 400)
    if await portal.publish_and_wait(request, portal.topics.sessions, event):
        flash(request, "flash.saved")
    return RedirectResponse(f"/courses/{course.course_id}", status_code=303)
