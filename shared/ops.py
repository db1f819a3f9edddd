"""What operations can ask every service: /metrics (Prometheus) and /healthz, over plain HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

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
LAG = Gauge("lederkontakt_consumer_lag", "Records behind the partition's high-water mark",
            ["service", "topic", "partition"])


def observe_consumed(service: str, record: Any, consumer: Any) -> None:
    """Count a consumed record and note how far its partition is behind."""
    CONSUMED.labels(service, record.topic).inc()
    try:
        from aiokafka import TopicPartition

        highwater = consumer.highwater(TopicPartition(record.topic, record.partition))
    except Exception:  # a consumer that cannot say (e.g. an in-memory test broker)
        return
    if highwater is not None:
        LAG.labels(service, record.topic, str(record.partition)).set(
            max(0, highwater - record.offset - 1))


Page = Callable[[], tuple[str, bytes]]  # content type and body, made per request


class OpsServer:
    """/metrics for Prometheus, /healthz (200 when `health()` says ok, else 503), and any
    further pages a service serves (the ops page)."""

    def __init__(self, service: str, port: int, health: Callable[[], dict[str, Any]],
                 host: str = "0.0.0.0", pages: dict[str, Page] | None = None,
                 required: bool = False) -> None:
        self.service = service
        self.port = port
        self.host = host
        self.health = health
        self.pages = pages or {}
        self.required = required
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        if self.port <= 0:
            return
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            if self.required:
                raise
            # A second instance on one host: it still works, it just has no ops endpoint.
            log.warning("ops_http_unavailable", service=self.service, port=self.port,
                        error=str(exc))
            return
        log.info("ops_http", service=self.service, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode(errors="replace").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path == "/metrics":
                status, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest()
            elif path == "/healthz":
                report = {"service": self.service, **self.health()}
                status = 200 if report.get("ok") else 503
                ctype, body = "application/json", json.dumps(report).encode()
            elif path in self.pages:
                status = 200
                ctype, body = self.pages[path]()
            else:
                status, ctype, body = 404, "text/plain", b"not found\n"
            head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


def http_port(default: int) -> int:
    import os

    return int(os.environ.get("LEDERKONTAKT_HTTP_PORT", str(default)))
