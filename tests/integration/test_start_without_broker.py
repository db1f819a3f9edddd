"""A service started while Kafka cannot be reached keeps trying, answers 503 meanwhile, and goes
on once the broker answers: no exit, no hand restart."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.referral.app import ReferralService
from services.referral.domain.intake import course_id_for
from shared.kafka import EventProducer
from shared.ops import ServiceApp
from shared.service import Backoff
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events, wait_for
from tests.samples import referral

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def _forwarding(port: int, target: str) -> AsyncIterator[None]:
    """Makes the broker reachable at `port`: until then nothing listens there."""
    host, target_port = target.split(",")[0].rsplit(":", 1)

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


class _Lifespan:
    """What uvicorn does with the app's lifespan: startup, then (later) shutdown."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self.task = asyncio.create_task(self.app({"type": "lifespan"}, self.inbox.get,
                                                 self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(self.outbox.get(), 5))["type"] == \
            "lifespan.startup.complete"

    async def shutdown(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(self.outbox.get(), 30))["type"] == \
            "lifespan.shutdown.complete"


async def test_a_service_started_while_kafka_is_unreachable_answers_503_and_goes_on_once_it_answers(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer,
) -> None:
    port = _free_port()
    unreachable = kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})
    service = ReferralService(unreachable)
    service.backoff = Backoff(first=0.2, most=0.5)
    app = service.app()
    lifespan = _Lifespan(app)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops")
    await lifespan.startup()
    try:
        await wait_for(lambda: service.start_attempts >= 3, timeout=10)
        answer = await http.get("/healthz")
        assert answer.status_code == 503 and answer.json()["kafka"] == "unreachable"
        assert not app.failed

        async with _forwarding(port, kafka.bootstrap_servers):
            await asyncio.wait_for(service.connected.wait(), 60)
            await producer.publish(topics.referrals, referral("r-late"))
            [course] = await read_events(kafka, topics.courses, expect=1, timeout=60)
            assert course.course_id == course_id_for("r-late")  # type: ignore[attr-defined]
            # Healthy once both of its consumer groups have assigned it their partitions.
            for _ in range(300):
                answer = await http.get("/healthz")
                if answer.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert answer.status_code == 200 and answer.json()["kafka"] == "connected"
            await lifespan.shutdown()
    finally:
        await http.aclose()
        if lifespan.task is not None and not lifespan.task.done():
            lifespan.task.cancel()
