"""Leaders: refer an employee, see the receipt, follow their own referrals' status."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.bus import form_event_id
from services.portal.domain.forms import FormInvalid, referral_from_form, token_of
from services.portal.web import portal_of, render, require

router = APIRouter()


def _form(request: Request, form_key: str, values: dict[str, str], errors: dict[str, str],
          status_code: int = 200) -> Response:
    return render(request, "referral_form.html", {
        "form_key": form_key, "values": values, "errors": errors,
        "administrations": portal_of(request).org_units.administrations}, status_code)


@router.get("/referrals/new", response_class=HTMLResponse)
async def referral_form(request: Request) -> Response:
    require(request, "leader")
    return _form(request, uuid.uuid4().hex, {}, {})


@router.post("/referrals")
async def submit_referral(request: Request) -> Response:
    me = require(request, "leader")
    portal = portal_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    form_key = form.get("form_key", "")
    if not form_key:
        form_key = uuid.uuid4().hex
    event_id = form_event_id(me.person_id, form_key)
    referral_id = "web-" + token_of(event_id, 20)
    leader = {"person_id": me.person_id, "name": me.name, "email": me.email,
              "language": portal.language_of(request)}
    try:
        referral = referral_from_form(
            form, referral_id=referral_id, event_id=event_id, now=portal.clock.now(),
            leader=leader, psychologist=portal.settings.intake_psychologist,
            team_lead=portal.settings.intake_team_lead)
    except FormInvalid as exc:
        return _form(request, form_key, form, exc.errors, 400)
    await portal.publish_and_wait(request, portal.topics.referrals, referral)
    return RedirectResponse(f"/referrals/{referral_id}", status_code=303)


@router.get("/referrals", response_class=HTMLResponse)
async def my_referrals(request: Request) -> Response:
    me = require(request, "leader")
    rows = portal_of(request).view.referrals_of(me.person_id)
    return render(request, "referrals.html", {"rows": rows})


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
async def receipt(request: Request, referral_id: str) -> Response:
    me = require(request, "leader")
    view = portal_of(request).view
    row = view.referral_row(referral_id)
    if row is None:
        # Published, but this instance has not read it yet: say so, show nothing else.
        return render(request, "receipt.html", {"row": None, "status": "received"})
    if row.leader_id != me.person_id:
        raise HTTPException(status_code=404)
    return render(request, "receipt.html", {"row": row, "status": view.referral_status(row)})
