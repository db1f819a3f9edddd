"""Home, login and logout, the language switch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.auth import identity_from_claims
from services.portal.i18n import LANGUAGES
from services.portal.web import portal_of, render

router = APIRouter()


def _local_path(value: Any) -> str:
    """Only a path on this site: a login can never send someone elsewhere."""
    path = str(value or "/")
    return path if path.startswith("/") and not path.startswith("//") else "/"


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return render(request, "home.html")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next_path": _local_path(next)})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    request.session["next"] = _local_path(form.get("next"))
    portal = portal_of(request)
    redirect_uri = portal.settings.public_url.rstrip("/") + "/auth/callback"
    response: Response = await portal.oauth.idp.authorize_redirect(request, redirect_uri)
    return response


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    """The identity provider's redirect back. Its one effect, starting a session, is what
    the person asked for by pressing the login button; the code is single-use."""
    portal = portal_of(request)
    try:
        token = await portal.oauth.idp.authorize_access_token(request)
    except Exception:
        return render(request, "login.html", {"next_path": "/", "failed": True}, 401)
    identity = identity_from_claims(dict(token.get("userinfo") or {}), portal.settings)
    if identity is None:
        return render(request, "login.html", {"next_path": "/", "failed": True}, 403)
    next_path = _local_path(request.session.pop("next", "/"))
    lang = request.session.get("lang")
    request.session.clear()  # a new session id for the logged-in person
    request.session["user"] = identity.as_session()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse(next_path, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse("/", status_code=303)


@router.post("/language")
async def set_language(request: Request) -> Response:
    form = await request.form()
    lang = form.get("lang")
    if lang in LANGUAGES:
        request.session["lang"] = lang
    return RedirectResponse(_local_path(form.get("next")), status_code=303)
