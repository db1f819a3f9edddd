"""The ops page: contact points due today and overdue per psychologist, and the latest
notifications with their outcome. It reads `contact-points` and `notifications.status` from the
beginning (every instance sees everything) and shows ids, kinds, dates and states only."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections import deque
from dataclasses import dataclass, field
from datetime import date

from faststream.asgi import AsgiFastStream

from shared.background import Background
from shared.calendar import local_date
from shared.clock import Clock
from shared.events import EventDecodeError, decode_event
from shared.ops import OpsServer, ops_routes, token_guard
from shared.reader import batches, reading
from shared.settings import KafkaSettings
from shared.topics import Topics


@dataclass
class PointRow:
    course_id: str
    point_id: str
    kind: str
    state: str
    due_by: date
    psychologist_id: str


@dataclass
class OpsView:
    points: dict[tuple[str, str], PointRow] = field(default_factory=dict)
    notifications: deque[tuple[str, str, str, str, str]] = field(
        default_factory=lambda: deque(maxlen=50))

    def apply(self, event: object) -> None:
        kind = getattr(event, "type", "")
        if kind.startswith("contact_point."):
            row = PointRow(event.course_id or "", event.contact_point_id, event.kind,  # type: ignore[attr-defined]
                           kind.removeprefix("contact_point."), event.due_by,  # type: ignore[attr-defined]
                           event.psychologist_id or "unassigned")  # type: ignore[attr-defined]
            self.points[(row.course_id, row.point_id)] = row
        elif kind.startswith("notification."):
            self.notifications.appendleft((
                event.occurred_at.isoformat(timespec="seconds"),  # type: ignore[attr-defined]
                kind.removeprefix("notification."), event.kind,  # type: ignore[attr-defined]
                event.recipient_role, getattr(event, "reason", "") or ""))  # type: ignore[attr-defined]

    def due_today(self, today: date) -> list[PointRow]:
        return sorted((p for p in self.points.values()
                       if p.state in ("scheduled", "due") and p.due_by == today),
                      key=lambda p: (p.psychologist_id, p.course_id))

    def overdue(self, today: date) -> list[PointRow]:
        return sorted((p for p in self.points.values()
                       if p.state in ("due", "overdue", "scheduled") and p.due_by < today),
                      key=lambda p: (p.psychologist_id, p.due_by))

    def blocked(self) -> list[PointRow]:
        return sorted((p for p in self.points.values() if p.state == "blocked"),
                      key=lambda p: (p.psychologist_id, p.due_by))


STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;min-width:40rem}td,th{border-bottom:1px solid #ddd;
padding:.3rem .7rem;text-align:left}th{background:#f3f3f3}
.overdue{color:#b00020}.sent{color:#17692b}.suppressed{color:#8a5a00}.failed{color:#b00020}
.count{font-weight:normal;color:#666}"""


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="{css}">{html.escape(c)}</td>' for c in r)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _points(rows: list[PointRow], css: str = "") -> str:
    return _table(["psychologist", "course", "contact point", "state", "due by"],
                  [[p.psychologist_id, p.course_id, p.kind, p.state, p.due_by.isoformat()]
                   for p in rows], css)


def render_page(view: OpsView, today: date) -> str:
    due, late, blocked = view.due_today(today), view.overdue(today), view.blocked()
    notes = "".join(
        f'<tr><td>{html.escape(at)}</td><td class="{html.escape(outcome)}">{html.escape(outcome)}'
        f"</td><td>{html.escape(kind)}</td><td>{html.escape(role)}</td>"
        f"<td>{html.escape(reason)}</td></tr>"
        for at, outcome, kind, role, reason in view.notifications)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>lederkontakt: operations</title><style>{STYLE}</style></head><body>
<h1>Leader contact, {today.isoformat()}</h1>
<h2>Due today <span class="count">({len(due)})</span></h2>{_points(due)}
<h2>Overdue <span class="count">({len(late)})</span></h2>{_points(late, "overdue")}
<h2>Waiting for the employee's consent <span class="count">({len(blocked)})</span></h2>{_points(blocked)}
<h2>Latest notifications</h2>
<table><tr><th>at</th><th>outcome</th><th>kind</th><th>to</th><th>reason</th></tr>{notes}</table>
</body></html>"""


class OpsPage:
    def __init__(self, settings: KafkaSettings, clock: Clock, port: int,
                 host: str = "127.0.0.1") -> None:
        topics = Topics(settings.topic_prefix)
        self._topics = [topics.contact_points, topics.notifications_status]
        self._kwargs = settings.aiokafka_kwargs()
        self.view = OpsView()
        self.clock = clock
        self._follower = Background(self._follow)
        routes = ops_routes("ops-page", lambda: {"ok": True}, pages={"/": self._page},
                            guard=token_guard())
        self._server = OpsServer("ops-page", AsgiFastStream(asgi_routes=routes), port, host,
                                 required=True)

    @property
    def port(self) -> int:
        return self._server.port

    def _page(self) -> tuple[str, bytes]:
        html_page = render_page(self.view, local_date(self.clock.now()))
        return "text/html; charset=utf-8", html_page.encode()

    async def start(self) -> None:
        await self._follower.start()
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()
        await self._follower.stop()

    async def _follow(self) -> None:
        async with reading(self._kwargs, *self._topics) as consumer:
            async for records in batches(consumer):
                for record in records:
                    with contextlib.suppress(EventDecodeError):
                        self.view.apply(decode_event(record.value))


async def serve(settings: KafkaSettings, clock: Clock, port: int, host: str) -> None:
    page = OpsPage(settings, clock, port, host)
    await page.start()
    print(f"ops page on http://{host}:{port}/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await page.stop()
