"""What every page shares: rendering in the person's language, who may see it, flash messages.

A page handler calls `render(request, "x.html", {...})`; the template extends `base.html`,
which gives it the layout, the navigation for the person's roles, the language switch and
the CSRF token for its forms (`{{ csrf_field() }}`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from services.portal.auth import Identity, current_identity
from services.portal.config import Role
from services.portal.i18n import LANGUAGES, Language, translate
from services.portal.security import CSRF_FIELD, csrf_token

if TYPE_CHECKING:
    from services.portal.app import Portal

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class LoginRequired(Exception):
    """Raised by `require`; the app answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def portal_of(request: Request) -> Portal:
    """The portal's state (view, publisher, settings, clock) from a request."""
    portal: Portal = request.app.state.portal
    return portal


def language(request: Request) -> Language:
    lang = request.session.get("lang")
    return lang if lang in LANGUAGES else "da"


def flash(request: Request, key: str) -> None:
    request.session.setdefault("flash", []).append(key)


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    lang = language(request)
    session = request.session
    token = csrf_token(session)
    messages = session.pop("flash", [])
    ctx = {
        "lang": lang,
        "t": lambda key, **kw: translate(lang, key, **kw),
        "csrf_field": lambda: Markup(
            f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">'),
        "user": current_identity(request),
        "flashes": messages,
        "path": request.url.path,
        "extra_nav": getattr(getattr(request.app.state, "portal", None), "nav", []),
        **(context or {}),
    }
    return TEMPLATES.TemplateResponse(request, template, ctx, status_code=status_code)


def require(request: Request, *roles: Role) -> Identity:
    """The logged-in person, if they hold one of `roles`; else a login redirect or a 403."""
    identity = current_identity(request)
    if identity is None:
        raise LoginRequired(request.url.path)
    if not identity.roles & set(roles):
        raise HTTPException(status_code=403)
    return identity
