"""A live, whole-topic view of a compacted topic (people, consents, plans), as a Kafka Streams
GlobalKTable: replayed on start, then tailed; `catch_up` waits until the view holds
everything the topic held at the moment of asking. The notifier reads people, consents and
plans this way; the referral service reads people, so a re-upsert keeps what staff chose."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from shared.events import EventDecodeError
from shared.logging import get_logger
from shared.ops import VIEW_SKIPPED
from shared.reader import batches, open_reader

V = TypeVar("V")
log = get_logger("views")


def _reason(exc: Exception) -> str:
    if isinstance(exc, EventDecodeError):
        return exc.reason
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class EndOffsets:
    """The end offsets the views of one process ask for, on one client of their own (on a
    tailing consumer's connection the request would queue behind its long-polling fetch).
    Questions that come while one is on its way are answered together by the next, in one
    request: the notifier's consent check catches up four views at once, for each request.
    A question asked while a request is on its way is never answered by that request, only by
    the next, so an answer is never older than its question. Questions answered together fail
    together: a partition the broker cannot answer for holds up every view of the process
    until it can. Each view opens it on start and closes it on stop; the client runs while any
    view does."""

    def __init__(self, kafka_kwargs: dict[str, Any]) -> None:
        self._kafka_kwargs = kafka_kwargs
        self._client: AIOKafkaConsumer | None = None
        self._users = 0
        self._lock = asyncio.Lock()
        self._next: tuple[asyncio.Future[dict[TopicPartition, int]], set[TopicPartition]] | None
        self._next = None
        self._rounds: asyncio.Task[None] | None = None
        self.requests = 0  # end-offset requests sent, for the tests

    async def open(self) -> None:
        async with self._lock:
            if self._client is None:
                client = AIOKafkaConsumer(**self._kafka_kwargs, group_id=None,
                                          enable_auto_commit=False)
                await client.start()
                self._client = client
            self._users += 1

    async def close(self) -> None:
        async with self._lock:
            self._users -= 1
            if self._users > 0 or self._client is None:
                return
            if self._rounds is not None:
                self._rounds.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._rounds
            await self._client.stop()
            self._client = None

    async def of(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The end offsets of `tps`, asked after this call began."""
        if self._next is None:
            future = asyncio.get_running_loop().create_future()
            # An exception nobody waits for any more must not be reported as unretrieved.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._next = (future, set())
        future, wanted = self._next
        wanted.update(tps)
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.create_task(self._run_rounds())
        ends = await asyncio.shield(future)
        return {tp: ends[tp] for tp in tps}

    async def _run_rounds(self) -> None:
        while self._next is not None:
            (future, wanted), self._next = self._next, None
            try:
                if self._client is None:
                    raise KafkaError("end offsets asked of a view that is not started")
                self.requests += 1
                ends = await self._client.end_offsets(sorted(wanted))
            except asyncio.CancelledError:
                future.set_exception(KafkaError("views closed"))
                raise
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(ends)


class GlobalView(Generic[V]):
    """`ends`: the process's shared EndOffsets (a view makes its own without one)."""

    def __init__(self, topic: str | Sequence[str], kafka_kwargs: dict[str, Any],
                 decode: Callable[[bytes], V | None], ends: EndOffsets | None = None) -> None:
        self.topics = [topic] if isinstance(topic, str) else list(topic)
        self.topic = ",".join(self.topics)
        self._kafka_kwargs = kafka_kwargs
        self._decode = decode
        self._values: dict[str, V] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._ends = ends or EndOffsets(kafka_kwargs)
        self._ends_open = False
        self._tps: list[TopicPartition] = []
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        # Catch-up rounds are shared: callers that arrive while one round runs wait for the
        # next, which starts after them, so each gets the guarantee at one query per round.
        self._next_round: asyncio.Future[None] | None = None
        self._rounds: asyncio.Task[None] | None = None

    def get(self, key: str) -> V | None:
        return self._values.get(key)

    def __len__(self) -> int:
        return len(self._values)

    def values(self) -> list[V]:
        return list(self._values.values())

    async def start(self) -> None:
        # The broker answers a tailing fetch as soon as a record arrives, so a long wait costs no
        # latency; a short one costs fetches (and broker CPU) while nothing happens: at 500 ms
        # the views of the notifier and the referral service were half the broker's fetches.
        consumer = await open_reader(self._kafka_kwargs, *self.topics, fetch_max_wait_ms=5000)
        self._consumer = consumer
        self._tps = sorted(consumer.assignment())
        await self._ends.open()
        self._ends_open = True
        self._task = asyncio.create_task(self._tail())
        # A slow or unreachable broker at start is waited out, not fatal: a service that exits
        # here would need a hand restart once the network heals.
        while True:
            try:
                await self.catch_up()
                break
            except (TimeoutError, KafkaError) as exc:
                log.warning("view_not_caught_up", topic=self.topic, keys=len(self._values),
                            error=type(exc).__name__)
        log.info("view_ready", topic=self.topic, keys=len(self._values))

    async def stop(self) -> None:
        if self._rounds is not None:
            self._rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rounds
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._ends_open:
            self._ends_open = False
            await self._ends.close()

    async def _tail(self) -> None:
        assert self._consumer is not None
        # A poll returns as soon as records come; its timeout only sets how often an idle view
        # wakes up (and tells catch_up to look at its positions again).
        async for records in batches(self._consumer, timeout_ms=1000, max_records=5000):
            for record in records:
                try:
                    self._apply(record)
                except Exception as exc:
                    # The owner of the topic dead-letters it; a view must not stop over it
                    # (whatever the decoder raised), and the skip is counted for operators.
                    VIEW_SKIPPED.labels(self.topic).inc()
                    log.warning("view_skipped_record", topic=self.topic,
                                offset=record.offset, reason=_reason(exc))
            async with self._progress:
                self._progress.notify_all()

    def _apply(self, record: Any) -> None:
        if record.key is None:
            return
        key = record.key.decode(errors="replace")
        value = None if record.value is None else self._decode(record.value)
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value

    async def catch_up(self, timeout: float = 10.0) -> None:
        """Return once every record written to the topic before this call has been applied."""
        if self._next_round is None:
            self._next_round = asyncio.get_running_loop().create_future()
            # An exception nobody waits for any more must not be reported as unretrieved.
            self._next_round.add_done_callback(lambda f: f.cancelled() or f.exception())
        round_ = self._next_round
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.create_task(self._run_rounds(timeout))
        await asyncio.wait_for(asyncio.shield(round_), timeout)

    async def _run_rounds(self, timeout: float) -> None:
        while self._next_round is not None:
            round_, self._next_round = self._next_round, None
            try:
                await asyncio.wait_for(self._one_round(), timeout)
            except Exception as exc:
                round_.set_exception(exc)
            else:
                round_.set_result(None)

    async def _one_round(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        end = await self._ends.of(self._tps)

        async def reached() -> bool:
            for tp in self._tps:
                if end[tp] and await consumer.position(tp) < end[tp]:
                    return False
            return True

        while not await reached():
            async with self._progress:
                await self._progress.wait()
