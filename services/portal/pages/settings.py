"""Staff's own settings: how their reminders reach them. A choice is one event on `referrals`
(`person.reminders_chosen`); the referral service, which keeps `people`, writes it there."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.portal.bus import form_event_id
from services.portal.config import Role
from services.portal.web import flash, portal_of, render, require
from shared.events import RemindersChosen

router = APIRouter()
STAFF: tuple[Role, ...] = ("psychologist", "team_lead")


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> Response:
    me = require(request, *STAFF)
    view = portal_of(request).view
    person = view.people.get(me.person_id)
    return render(request, "settings.html", {
        "reminders": view.reminders_of(me.person_id), "form_key": uuid.uuid4().hex,
        # The digest is an e-mail: without an address on record, reminders come one by one.
        "no_email": person is not None and person.email is None})


@router.post("/settings")
async def choose_reminders(request: Request) -> Response:
    me = require(request, *STAFF)
    portal = portal_of(request)
    form = await request.form()
    choice = form.get("reminders")
    if choice not in ("digest", "each"):
        raise HTTPException(status_code=400)
    try:
        event = RemindersChosen(
            event_id=form_event_id(me.person_id, str(form.get("form_key") or uuid.uuid4())),
            occurred_at=portal.clock.now(), person_id=me.person_id, reminders=choice,
            name=me.name, email=me.email)
    except ValidationError:
        # The login's name or address is not one `people` would take.
        raise HTTPException(status_code=400) from None
    if await portal.publish_and_wait(request, portal.topics.referrals, event):
        flash(request, "flash.saved")
    return RedirectResponse("/settings", status_code=303)
