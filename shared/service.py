"""The shell every Kafka service runs in: start, recover state, run timers, stop, ops HTTP.

Start: refuse a changelog whose partition count differs from its input's, start the producer
and whatever the service opens with it (views, adapters), then the broker; the tables recover
each partition's state as the group assigns it, before any of its input is handled. The timers
start last, once input flows. Stop is the reverse, timers first: a timer must not fire for a
partition that is being handed over.

A broker that cannot be reached at start (down, a network that resets or drops) is waited
out: what was opened is closed again and the start is tried anew after a growing pause, up to
`Backoff.most` seconds, each try logged as `kafka_unreachable`. A process that exited instead
would need a hand restart once the network heals.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.errors import KafkaError

from shared.background import Background
from shared.kafka import BatchHandler, EventProducer, consume, make_broker
from shared.logging import get_logger
from shared.ops import ServiceApp, service_routes
from shared.pipeline import Pipeline, RecordHandler, consume_pipelined
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, check_partitions, listener_for
from shared.topics import Topics
from shared.views import EndOffsets

V = TypeVar("V")
log = get_logger("service")

# What an unreachable or unsteady broker raises at start; anything else (a changelog with the
# wrong partition count, a bug) still stops the start.
UNREACHABLE = (KafkaError, OSError, TimeoutError)


@dataclass(frozen=True)
class Backoff:
    """Pauses between start attempts: `first`, doubled after each failure, at most `most`."""

    first: float = 0.5
    most: float = 15.0

    def pauses(self) -> Iterator[float]:
        pause = self.first
        while True:
            yield pause
            pause = min(pause * 2, self.most)


class ServiceShell:
    def __init__(self, name: str, settings: KafkaSettings) -> None:
        self.name = name
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.kafka_kwargs = settings.aiokafka_kwargs()
        self.producer = EventProducer(self.kafka_kwargs)
        # The end offsets every view of this service asks for, on one client, in shared requests.
        self.view_ends = EndOffsets(self.kafka_kwargs)
        self.broker = make_broker(settings)
        self.tables: list[ChangelogTable[Any]] = []
        self._timers: list[Background] = []
        self._pipelines: list[Pipeline] = []
        self.backoff = Backoff()
        self.connected = asyncio.Event()
        self.start_attempts = 0

    def table(self, topic: str, encode: Callable[[V], bytes], decode: Callable[[bytes], V],
              inputs: Sequence[str] = ()) -> ChangelogTable[V]:
        """A state table on a compacted changelog, checked against `inputs` at start."""
        table: ChangelogTable[V] = ChangelogTable(topic, self.kafka_kwargs, self.producer,
                                                  encode=encode, decode=decode, inputs=inputs)
        self.tables.append(table)
        return table

    def subscribe(self, *topics: str, group: str, handle: BatchHandler, batch_size: int,
                  table: ChangelogTable[Any] | None = None, fenced: bool = False) -> None:
        """A consumer group over `topics`; `table` is rebuilt on each assignment; `fenced`, see
        shared.kafka.consume."""
        consume(self.broker, *topics, group_id=f"{self.settings.topic_prefix}{group}",
                listener=listener_for(table) if table is not None else None, service=self.name,
                handle=handle, batch_size=batch_size, fenced=fenced)

    def subscribe_pipelined(self, topic: str, *, group: str, handle: RecordHandler, limit: int,
                            batch_size: int, table: ChangelogTable[Any] | None = None,
                            fenced: bool = False) -> None:
        """A consumer group over `topic` whose records are worked on one by one, up to `limit`
        at once, with commits per partition (shared.pipeline)."""
        pipeline = Pipeline(self.name, handle, limit)
        self._pipelines.append(pipeline)
        consume_pipelined(self.broker, topic, group_id=f"{self.settings.topic_prefix}{group}",
                          pipeline=pipeline,
                          listener=listener_for(table) if table is not None else None,
                          batch_size=batch_size, fenced=fenced)

    def timer(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A loop that runs while the service does (started after the broker, stopped first)."""
        self._timers.append(Background(loop))

    def health(self) -> dict[str, object]:
        raise NotImplementedError

    def report(self) -> dict[str, object]:
        """What /healthz answers: not ok (503) while Kafka has not been reached, then the
        service's own health (ok once its state is rebuilt)."""
        if not self.connected.is_set():
            return {"ok": False, "kafka": "unreachable", "start_attempts": self.start_attempts}
        return {**self.health(), "kafka": "connected"}

    async def open_adapters(self) -> None:
        """What a service opens after its producer and before its broker (views, senders)."""

    async def close_adapters(self) -> None:
        """What `open_adapters` opened, closed before the producer."""

    async def open(self) -> None:
        await check_partitions(self.kafka_kwargs, self.tables)
        await self.producer.start()
        await self.open_adapters()

    async def start_timers(self) -> None:
        for timer in self._timers:
            await timer.start()

    async def stop_timers(self) -> None:
        for timer in reversed(self._timers):
            await timer.stop()

    async def close(self) -> None:
        await self.close_adapters()
        await self.producer.stop()

    async def start(self) -> None:
        """Open, start the broker and the timers; while Kafka cannot be reached, try again."""
        pauses = self.backoff.pauses()
        for attempt in itertools.count(1):
            self.start_attempts = attempt
            try:
                await self.open()
                await self.broker.start()
                break
            except UNREACHABLE as exc:
                pause = next(pauses)
                log.warning("kafka_unreachable", service=self.name, attempt=attempt,
                            retry_in_seconds=pause, error=f"{type(exc).__name__}: {exc}"[:300])
                await self._undo_start()
                await asyncio.sleep(pause)
        self.connected.set()
        log.info("kafka_connected", service=self.name, attempts=self.start_attempts)
        await self.start_timers()

    async def _undo_start(self) -> None:
        # Whatever the failed attempt opened is closed, so the next starts from nothing.
        with contextlib.suppress(Exception):
            await self.broker.stop()
        with contextlib.suppress(Exception):
            await self.close()

    async def stop(self) -> None:
        await self.stop_timers()
        for pipeline in self._pipelines:
            await pipeline.close()  # while the consumer can still commit
        await self.broker.stop()
        await self.close()

    def app(self) -> ServiceApp:
        """The service as an ASGI app with its ops endpoints, which answer from the first
        moment; uvicorn's lifespan runs start() in the background and stop() at the end."""
        return ServiceApp(self, service_routes(self.name, self.broker, self.report))
