"""Employees: give or withdraw their own consent to leader contact, and say whether they want
a three-party meeting. Only the employee of a course can do this for that course."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.bus import form_event_id
from services.portal.web import flash, portal_of, render, require
from shared.events import ConsentGiven, ConsentState, ConsentWithdrawn

router = APIRouter()


@router.get("/consent", response_class=HTMLResponse)
async def consent_page(request: Request) -> Response:
    me = require(request, "employee")
    view = portal_of(request).view
    courses = [(c, view.consents.get(c.course_id, ConsentState()))
               for c in view.courses_of_employee(me.person_id)]
    return render(request, "consent.html", {"courses": courses, "form_key": uuid.uuid4().hex})


@router.post("/consent")
async def give_or_withdraw(request: Request) -> Response:
    me = require(request, "employee")
    portal = portal_of(request)
    form = await request.form()
    course = portal.view.courses.get(str(form.get("course_id", "")))
    if course is None or course.employee_id != me.person_id:
        raise HTTPException(status_code=403)
    scope, agreed = form.get("scope"), form.get("agreed")
    if scope not in ("leader_contact", "three_party_meeting") or agreed not in ("yes", "no"):
        raise HTTPException(status_code=400)
    cls = ConsentGiven if agreed == "yes" else ConsentWithdrawn
    event = cls(event_id=form_event_id(me.person_id, str(form.get("form_key") or uuid.uuid4())),
                occurred_at=portal.clock.now(), course_id=course.course_id, party="employee",
                scope=scope)
    if await portal.publish_and_wait(request, portal.topics.sessions, event):
        flash(request, "flash.consent_saved")
    return RedirectResponse("/consent", status_code=303)
