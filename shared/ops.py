"""What operations can ask every service: /metrics (Prometheus), /healthz and /ping, served as
ASGI (FastStream's AsgiFastStream and its health check, prometheus_client's ASGI app) by uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal, Protocol

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get, make_ping_asgi
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker
from prometheus_client import Counter, Gauge, make_asgi_app
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared.logging import get_logger

log = get_logger("ops")

CONSUMED = Counter("lederkontakt_messages_consumed_total", "Messages read from a topic",
                   ["service", "topic"])
PRODUCED = Counter("lederkontakt_events_produced_total", "Events published, by topic and type",
                   ["topic", "type"])
DEAD_LETTERED = Counter("lederkontakt_dead_lettered_total", "Messages sent to a DLQ",
                        ["topic"])
NOTIFICATIONS = Counter("lederkontakt_notifications_total", "Notification outcomes",
                        ["outcome", "channel", "reason"])
CONTACT_POINTS = Counter("lederkontakt_contact_point_changes_total",
                         "Contact point state changes", ["kind", "state"])
VIEW_SKIPPED = Counter("lederkontakt_view_records_skipped_total",
                       "Records a view or state table could not read and left out", ["topic"])
ALERTS = Counter("lederkontakt_alerts_total",
                 "Conditions an operator must look at (e.g. a consent statement refused)",
                 ["reason"])
LAG = Gauge("lederkontakt_consumer_lag", "Records behind the partition's high-water mark",
            ["service", "topic", "partition"])


RETENTION_USED = Gauge(
    "lederkontakt_consumer_retention_used",
    "Age of the record last consumed as a share of its topic's retention.ms: at 1 the records "
    "after it are being deleted unread", ["service", "topic"])
# Past this share of its topic's retention, a consumer's lag is logged as a warning.
RETENTION_WARNING_SHARE = 0.5
_RETENTION_WARNED: dict[tuple[str, str], float] = {}


@functools.lru_cache(maxsize=1024)
def _retention_ms(topic: str) -> int | None:
    """The `retention.ms` of the registry topic that `topic` (perhaps prefixed) names; None
    for a topic kept for good or compacted."""
    from shared.topics import SPECS

    names = [s for s in SPECS if topic.endswith(s.name)]
    if not names:
        return None
    spec = max(names, key=lambda s: len(s.name))
    retention = int(spec.configs().get("retention.ms", "-1"))
    return retention if retention > 0 else None


def observe_retention(service: str, record: Any, now: float | None = None) -> None:
    """How close a consumer is to losing records to retention: the consumed record's age as a
    share of its topic's retention, as a gauge, and a warning past half of it (at most once a
    minute per topic). `referrals` keeps raw intake only half the erasure bound."""
    retention = _retention_ms(record.topic)
    timestamp = getattr(record, "timestamp", None)
    if retention is None or not isinstance(timestamp, int) or timestamp <= 0:
        return
    now = time.time() if now is None else now
    share = max(0.0, now * 1000 - timestamp) / retention
    RETENTION_USED.labels(service, record.topic).set(share)
    key = (service, record.topic)
    if share >= RETENTION_WARNING_SHARE and now - _RETENTION_WARNED.get(key, 0.0) >= 60:
        _RETENTION_WARNED[key] = now
        log.warning("consumer_lag_near_retention", service=service, topic=record.topic,
                    record_age_s=round(now - timestamp / 1000), retention_s=retention // 1000,
                    share=round(share, 2))


def observe_consumed(service: str, record: Any, consumer: Any) -> None:
    """Count a consumed record and note how far its partition is behind, in records and
    against its topic's retention."""
    CONSUMED.labels(service, record.topic).inc()
    observe_retention(service, record)
    try:
        from aiokafka import TopicPartition

        highwater = consumer.highwater(TopicPartition(record.topic, record.partition))
    except Exception:  # a consumer that cannot say (e.g. an in-memory test broker)
        return
    if highwater is not None:
        LAG.labels(service, record.topic, str(record.partition)).set(
            max(0, highwater - record.offset - 1))


Health = Callable[[], dict[str, Any]]
Page = Callable[[], tuple[str, bytes]]  # content type and body, made per request
Guard = Callable[["ASGIApp"], "ASGIApp"]


def ops_routes(service: str, health: Health, *, broker: KafkaBroker | None = None,
               pages: dict[str, Page] | None = None,
               guard: Guard | None = None) -> list[tuple[str, ASGIApp]]:
    """/metrics for Prometheus, /healthz (200 when `health()` says ok, else 503, with its
    report), /ping (FastStream's broker health check, 204 or 500) and any further pages. A
    `guard` (an authentication check, say) wraps every one of them but /ping, which tells only
    whether the broker answers and serves liveness probes that hold no secret."""

    @get
    async def healthz(scope: Scope) -> AsgiResponse:
        report = {"service": service, **health()}
        return JSONResponse(report, 200 if report.get("ok") else 503)

    routes: list[tuple[str, ASGIApp]] = [("/metrics", make_asgi_app()), ("/healthz", healthz)]
    for path, page in (pages or {}).items():
        routes.append((path, _page(page)))
    if guard is not None:
        routes = [(path, guard(app)) for path, app in routes]
    if broker is not None:
        routes.append(("/ping", make_ping_asgi(broker, timeout=5.0)))
    return routes


def bearer_guard(token: str) -> Guard:
    """Lets a request through only with `Authorization: Bearer <token>`; 401 otherwise."""
    expected = f"Bearer {token}".encode()

    def guard(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            # Compared in constant time: the token is the only thing guarding /metrics.
            if not hmac.compare_digest(given, expected):
                await AsgiResponse(b"", 401, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
            await app(scope, receive, send)

        return guarded

    return guard


def token_guard() -> Guard | None:
    """The bearer-token guard when LEDERKONTAKT_OPS_TOKEN is set, else none."""
    token = os.environ.get("LEDERKONTAKT_OPS_TOKEN", "")
    return bearer_guard(token) if token else None


def _page(make: Page) -> ASGIApp:
    @get
    async def page(scope: Scope) -> AsgiResponse:
        content_type, body = make()
        return AsgiResponse(body, 200, {"Content-Type": content_type})

    return page


class _EmbeddedServer(uvicorn.Server):
    """Uvicorn inside a process that handles its own signals (the tests, the ops page)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _ServiceServer(uvicorn.Server):
    """Uvicorn as a service's main loop: SIGINT and SIGTERM stop it gracefully, and the
    process then exits 0 (uvicorn itself would raise the signal again once it has stopped)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head. uvicorn has none of its
    own: `timeout_keep_alive` starts only once a response is complete and every byte received
    stops it, so a client sending its header lines a byte at a time would hold a connection
    (and one of the `limit_concurrency` slots) for as long as it likes."""

    head_timeout_seconds = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self.loop.call_later(self.head_timeout_seconds, self._head_overdue, self.cycle)

    def _head_overdue(self, waiting: object) -> None:
        # No new request head since the deadline was set: the cycle is still the one that
        # was complete (or none) then.
        idle = waiting is None or getattr(waiting, "response_complete", False)
        if self.cycle is waiting and idle and not self.transport.is_closing():
            self.transport.close()


def _config(app: ASGIApp, lifespan: Literal["on", "off"]) -> uvicorn.Config:
    # Our own logging stays in charge (log_config=None); a few dozen connections at once are
    # plenty for an ops endpoint; h11 bounds the size of a request's head, and the protocol
    # the time it may take to arrive.
    return uvicorn.Config(app, lifespan=lifespan, log_config=None, access_log=False,
                          limit_concurrency=64, timeout_keep_alive=5, http=HeadDeadlineProtocol)


def _bind(service: str, host: str, port: int, required: bool) -> socket.socket:
    try:
        return _listen(host, port)
    except OSError as exc:
        if required or port == 0:
            raise
        # A second instance on one host: it still serves its ops endpoints, on a free port.
        log.warning("ops_http_port_taken", service=service, port=port, error=str(exc))
        return _listen(host, 0)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class OpsServer:
    """An ASGI app served by uvicorn in the running event loop, beside the work of the process
    that starts and stops it. Port 0 takes a free port; `port` says which once started."""

    def __init__(self, service: str, app: ASGIApp, port: int, host: str = "127.0.0.1",
                 required: bool = False) -> None:
        self.service = service
        self.app = app
        self.port = port
        self.host = host
        self.required = required
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = _bind(self.service, self.host, self.port, self.required)
        self.port = sock.getsockname()[1]
        self._server = _EmbeddedServer(_config(self.app, "off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        # Uvicorn tells that it listens only by a flag.
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it
        log.info("ops_http", service=self.service, host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None


class Startable(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ServiceApp:
    """A service as uvicorn runs it. The lifespan starts the service in the background, so the
    ops routes answer from the first moment (/healthz 503 while Kafka cannot be reached, see
    ServiceShell.start), and stops it at shutdown. A start that fails for another reason than
    an unreachable broker stops the server, and the process exits 1."""

    def __init__(self, service: Startable, routes: ASGIApp) -> None:
        self.service = service
        self.routes = routes
        self.failed = False
        self.stop_server: Callable[[], None] = lambda: None
        self._after_startup: list[Callable[[], Awaitable[None]]] = []

    def after_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        """A step run once the service has started."""
        self._after_startup.append(hook)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.routes(scope, receive, send)
            return
        await receive()  # lifespan.startup
        starting = asyncio.create_task(self._start())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await self.service.stop()
        await send({"type": "lifespan.shutdown.complete"})

    async def _start(self) -> None:
        try:
            await self.service.start()
            for hook in self._after_startup:
                await hook()
        except Exception:
            log.exception("service_start_failed", service=self.service.name)
            self.failed = True
            self.stop_server()


async def serve(app: ASGIApp, service: str, port: int, host: str) -> None:
    """Run a service: uvicorn serves its ops endpoints and, through the ASGI lifespan, starts
    and stops the service with it (and stops on SIGINT or SIGTERM)."""
    sock = _bind(service, host, port, required=False)
    log.info("ops_http", service=service, host=host, port=sock.getsockname()[1])
    server = _ServiceServer(_config(app, "on"))
    if isinstance(app, ServiceApp):
        app.stop_server = lambda: server.handle_exit(signal.SIGTERM, None)
    await server.serve(sockets=[sock])


def service_routes(service: str, broker: KafkaBroker, health: Health) -> AsgiFastStream:
    """A service's ops endpoints as an ASGI app (its routes only: ServiceApp runs its lifespan)."""
    return AsgiFastStream(asgi_routes=ops_routes(service, health, broker=broker,
                                                 guard=token_guard()))


def run(app: ASGIApp, service: str, default_port: int) -> None:
    """`python -m services.<name>.app`: serve until SIGINT or SIGTERM; exit 1 if the start
    failed for another reason than an unreachable broker."""
    asyncio.run(serve(app, service, http_port(default_port), http_host()))
    if isinstance(app, ServiceApp) and app.failed:
        raise SystemExit(1)


def http_host() -> str:
    """Where the ops endpoints listen: loopback, unless LEDERKONTAKT_HTTP_HOST says otherwise
    (0.0.0.0 in a container, so Prometheus can reach them)."""
    return os.environ.get("LEDERKONTAKT_HTTP_HOST", "127.0.0.1")


def http_port(default: int) -> int:
    return int(os.environ.get("LEDERKONTAKT_HTTP_PORT", str(default)))
