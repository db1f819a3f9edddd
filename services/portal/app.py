"""Wiring of the portal: one FastAPI app, one FastStream Kafka broker, the view it keeps, the
routers of each area, and the guards in front of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.portal.auth import make_oauth
from services.portal.bus import BrokerUnavailable, Publisher
from services.portal.config import PortalSettings
from services.portal.domain.reports import ReportShelf
from services.portal.domain.views import PortalView
from services.portal.i18n import Language
from services.portal.pages import common, employee, leader, psychologist, reports, team_lead
from services.portal.pages import settings as settings_page
from services.portal.security import GuardMiddleware, Receive, Scope, Send
from services.portal.web import LoginRequired, flash, language, render
from services.reporting.domain.orgunits import OrgUnits
from shared.clock import Clock, clock_from_env
from shared.events import Event, EventDecodeError, decode_event
from shared.kafka import make_broker
from shared.logging import get_logger
from shared.settings import KafkaSettings
from shared.topics import Topics

log = get_logger(__name__)


@dataclass(frozen=True)
class NavItem:
    """A link in the header for people holding `role`; pages added later register one."""

    path: str
    label: str
    role: str


@dataclass
class Portal:
    settings: PortalSettings
    kafka: KafkaSettings
    clock: Clock
    broker: KafkaBroker
    view: PortalView = field(default_factory=PortalView)
    reports: ReportShelf = field(default_factory=ReportShelf)
    nav: list[NavItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.topics = Topics(self.kafka.topic_prefix)
        self.publisher = Publisher(self.broker, self.view, self.settings.publish_timeout_seconds)
        self.oauth = make_oauth(self.settings)
        self.org_units = OrgUnits.from_toml(self.settings.org_units.read_text(encoding="utf-8"))
        directory = self.settings.staff()
        self.psychologists = self.settings.choosable(directory)
        self.assignable = None if directory is None \
            else frozenset(p.person_id for p in self.psychologists if p.person_id)
        self.view.assignable = self.assignable

    def language_of(self, request: Request) -> Language:
        return language(request)

    async def publish_and_wait(self, request: Request, topic: str, event: Event) -> bool:
        """Publish the one event of an action and wait until this portal's view has read it,
        so the page the person lands on shows it. False (and a message saying the change is
        saved but not yet shown) when the view is slower than the timeout."""
        written = await self.publisher.publish(topic, event)
        if await self.publisher.until_seen(written,
                                           self.settings.read_your_write_timeout_seconds):
            return True
        flash(request, "flash.slow")
        return False

    def apply_records(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            if record.topic == self.topics.reports:
                self.reports.apply(record.key, record.value)
            elif record.value is None:
                if record.topic == self.topics.people and record.key:
                    self.view.erase(record.key.decode(errors="replace"))
            else:
                with contextlib.suppress(EventDecodeError, ValueError, RecursionError):
                    self.view.apply(decode_event(record.value))
            self.view.advance(record.topic, record.partition, record.offset)

    @property
    def view_topics(self) -> list[str]:
        t = self.topics
        return [t.referrals, t.courses, t.sessions, t.people, t.consents, t.contact_points,
                t.notifications_status, t.reports]


async def _connect(portal: Portal) -> None:
    """Keep trying until Kafka answers: the portal serves pages (and a clear "try again" for
    actions) while it cannot reach the broker, instead of refusing to start."""
    while True:
        try:
            await portal.broker.start()
            portal.publisher.connected.set()
            log.info("portal_connected", topics=len(portal.view_topics))
            return
        except Exception as exc:
            log.warning("portal_kafka_unavailable", error=type(exc).__name__)
            with contextlib.suppress(Exception):
                await portal.broker.stop()
            await asyncio.sleep(2)


def _lifespan(portal: Portal) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Connect in the background while serving; stop the broker when the app stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        connecting = asyncio.create_task(_connect(portal))
        try:
            yield
        finally:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            with contextlib.suppress(Exception):
                await portal.broker.stop()

    return lifespan


def _referer_path(request: Request) -> str | None:
    from urllib.parse import urlsplit

    path = urlsplit(request.headers.get("referer", "")).path
    return path if path.startswith("/") and not path.startswith("//") else None


def _guard(app: FastAPI, settings: PortalSettings) -> None:
    """The session cookie and, inside it, the request-size and cross-site checks."""

    async def reject(scope: Scope, receive: Receive, send: Send, status: int) -> None:
        request = Request(scope, receive)
        key = "too_large" if status == 413 else "csrf"
        response = render(request, "error.html", {"title": f"error.{key}.title",
                                                  "message": f"error.{key}.body"}, status)
        await response(scope, receive, send)

    # Added first, so it runs inside the session middleware and can read the session.
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes, reject=reject)
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret.get_secret_value(),
                       session_cookie="lederkontakt_session", same_site="lax",
                       https_only=settings.cookie_secure,
                       max_age=settings.session_max_age_seconds)


def _error_pages(app: FastAPI) -> None:
    """Errors as pages in the person's language: login, Kafka unreachable, HTTP errors."""

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)

    @app.exception_handler(BrokerUnavailable)
    async def broker_down(request: Request, exc: BrokerUnavailable) -> Response:
        return render(request, "error.html", {"title": "error.unavailable.title",
                                              "message": "error.unavailable.body",
                                              "retry": _referer_path(request)}, 503)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {403: "forbidden", 404: "not_found", 400: "bad_request"}.get(exc.status_code,
                                                                            "bad_request")
        return render(request, "error.html", {"title": f"error.{key}.title",
                                              "message": f"error.{key}.body"}, exc.status_code)


def create_app(settings: PortalSettings | None = None, kafka: KafkaSettings | None = None,
               clock: Clock | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    kafka = kafka or KafkaSettings()
    broker = make_broker(kafka, request_timeout_ms=int(settings.publish_timeout_seconds * 1000))
    portal = Portal(settings, kafka, clock or clock_from_env(), broker)

    # Every instance reads every partition from the beginning (no consumer group): the view
    # is the whole system's, so any instance can serve any person.
    @broker.subscriber(*portal.view_topics, group_id=None, auto_offset_reset="earliest",
                       batch=True, max_records=500)
    async def view_records(msg: KafkaMessage) -> None:
        portal.apply_records(msg.raw_message)

    app = FastAPI(lifespan=_lifespan(portal), docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    for router in (common.router, leader.router, employee.router, psychologist.router,
                   team_lead.router, reports.router, settings_page.router):
        app.include_router(router)

    _guard(app, settings)
    _error_pages(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": portal.publisher.connected.is_set(),
                "courses": len(portal.view.courses)}

    return app
