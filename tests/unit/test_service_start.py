"""How a service starts under uvicorn: the lifespan does not wait for Kafka, and only a start
that fails for another reason than an unreachable broker ends the process."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from shared.ops import ServiceApp
from shared.service import Backoff


class _Failing:
    name = "broken"

    def __init__(self) -> None:
        self.stopped = False

    async def start(self) -> None:
        raise RuntimeError("a changelog with the wrong partition count")

    async def stop(self) -> None:
        self.stopped = True


async def _routes(scope: Any, receive: Any, send: Any) -> None: ...


def test_a_start_that_fails_for_another_reason_than_kafka_stops_the_server() -> None:
    service = _Failing()
    app = ServiceApp(service, _routes)
    stops: list[int] = []

    async def run() -> None:
        stopped = asyncio.Event()

        def stop_server() -> None:
            stops.append(1)
            stopped.set()

        app.stop_server = stop_server
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await inbox.put({"type": "lifespan.startup"})
        task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
        await asyncio.wait_for(stopped.wait(), 5)
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 5)
        assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                             "lifespan.shutdown.complete"]

    asyncio.run(run())
    assert app.failed and stops == [1] and service.stopped


def test_the_pause_between_start_attempts_doubles_up_to_its_bound() -> None:
    pauses = list(itertools.islice(Backoff(first=0.5, most=15.0).pauses(), 8))
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
