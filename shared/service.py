"""The shell every Kafka service runs in: start, recover state, run timers, stop, ops HTTP.

Start: refuse a changelog whose partition count differs from its input's, start the producer
and whatever the service opens with it (views, adapters), then the broker; the tables recover
each partition's state as the group assigns it, before any of its input is handled. The timers
start last, once input flows. Stop is the reverse, timers first: a timer must not fire for a
partition that is being handed over.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from faststream.asgi import AsgiFastStream

from shared.background import Background
from shared.kafka import BatchHandler, EventProducer, consume, make_broker
from shared.ops import service_app
from shared.settings import KafkaSettings
from shared.state import ChangelogTable, check_partitions, listener_for
from shared.topics import Topics

V = TypeVar("V")


class ServiceShell:
    def __init__(self, name: str, settings: KafkaSettings) -> None:
        self.name = name
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.kafka_kwargs = settings.aiokafka_kwargs()
        self.producer = EventProducer(self.kafka_kwargs)
        self.broker = make_broker(settings)
        self.tables: list[ChangelogTable[Any]] = []
        self._timers: list[Background] = []

    def table(self, topic: str, encode: Callable[[V], bytes], decode: Callable[[bytes], V],
              inputs: Sequence[str] = ()) -> ChangelogTable[V]:
        """A state table on a compacted changelog, checked against `inputs` at start."""
        table: ChangelogTable[V] = ChangelogTable(topic, self.kafka_kwargs, self.producer,
                                                  encode=encode, decode=decode, inputs=inputs)
        self.tables.append(table)
        return table

    def subscribe(self, *topics: str, group: str, handle: BatchHandler, batch_size: int,
                  table: ChangelogTable[Any] | None = None) -> None:
        """A consumer group over `topics`; `table` is rebuilt on each assignment."""
        consume(self.broker, *topics, group_id=f"{self.settings.topic_prefix}{group}",
                listener=listener_for(table) if table is not None else None, service=self.name,
                handle=handle, batch_size=batch_size)

    def timer(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A loop that runs while the service does (started after the broker, stopped first)."""
        self._timers.append(Background(loop))

    def health(self) -> dict[str, object]:
        raise NotImplementedError

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
        await self.open()
        await self.broker.start()
        await self.start_timers()

    async def stop(self) -> None:
        await self.stop_timers()
        await self.broker.stop()
        await self.close()

    def app(self) -> AsgiFastStream:
        """The service as an ASGI app with its ops endpoints: uvicorn's lifespan runs the same
        steps as start() and stop(), around FastStream's own start and stop of the broker."""
        app = service_app(self.name, self.broker, self.health)
        app.on_startup(self.open)
        app.after_startup(self.start_timers)
        app.on_shutdown(self.stop_timers)
        app.after_shutdown(self.close)
        return app
