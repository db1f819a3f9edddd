"""A table in memory, backed by a compacted changelog topic (as Kafka Streams and Faust keep state).

Each key lives in the changelog partition with the number of the input partition its record
came from. When the consumer group assigns input partitions to this process, the table replays
those changelog partitions up to the high-water mark captured at assignment before any input
is processed; on revocation it forgets them, since another member now owns that state.

Work whose effect lies outside Kafka (a message handed to a mail server, then recorded in the
notifier's ledger) runs `holding` its partition: it starts only while this member owns the
partition, and a revocation waits for it (up to `drain_seconds`) before the partition goes to
another member, so the new owner's replay holds its record. Writes that arrive for a revoked
partition still go to Kafka, but not into this member's memory: its timers must not fire there.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRebalanceListener, TopicPartition

from shared.events import EventDecodeError
from shared.kafka import Publisher, Record
from shared.logging import get_logger
from shared.ops import VIEW_SKIPPED
from shared.reader import partition_numbers, reading, to_end
from shared.telemetry import trace_headers

V = TypeVar("V")
log = get_logger(__name__)


class PartitionMoved(Exception):
    """The partition was revoked from this member: its work is left to the next owner."""

    def __init__(self, partition: int) -> None:
        super().__init__(f"partition {partition} was revoked")
        self.partition = partition


class ChangelogTable(Generic[V]):
    def __init__(
        self,
        topic: str,
        kafka_kwargs: dict[str, Any],
        producer: Publisher,
        encode: Callable[[V], bytes],
        decode: Callable[[bytes], V],
        inputs: Sequence[str] = (),
        drain_seconds: float = 30.0,
    ) -> None:
        self.topic = topic
        # The input topics whose partition n keeps its state in this changelog's partition n.
        self.inputs = tuple(inputs)
        self._kafka_kwargs = kafka_kwargs
        self._producer = producer
        self._encode = encode
        self._decode = decode
        self._values: dict[str, V] = {}
        self._partition_of: dict[str, int] = {}
        self.owned: set[int] = set()
        self.ready = asyncio.Event()
        # Keys written while their partition is being replayed: a handler that was already
        # running when the rebalance came may still write, and its value is newer than what
        # the replay read.
        self._replaying: set[int] = set()
        self._written_during_replay: set[str] = set()
        # Bumped whenever whole partitions arrive or leave, so derived indexes know to rebuild.
        self.generation = 0
        # Revoked and not (yet) assigned again: no new work starts on these.
        self.revoked: set[int] = set()
        self.drain_seconds = drain_seconds
        self._holders = 0
        self._drained = asyncio.Event()
        self._drained.set()

    async def wait_ready(self) -> None:
        """Handlers call this first: aiokafka may hand out records of a newly assigned partition
        while the rebalance listener is still replaying its state."""
        await self.ready.wait()

    @contextlib.asynccontextmanager
    async def holding(self, partition: int) -> AsyncIterator[None]:
        """Run a piece of work on `partition` that a revocation must wait for (see the module's
        docstring); raises PartitionMoved once the partition was revoked from this member."""
        await self.wait_ready()
        if partition in self.revoked:
            raise PartitionMoved(partition)
        self._holders += 1
        self._drained.clear()
        try:
            yield
        finally:
            self._holders -= 1
            if not self._holders:
                self._drained.set()

    async def release(self, partitions: Iterable[int]) -> None:
        """On revocation: no new work on `partitions`, and the work holding them is waited for,
        up to `drain_seconds` (the group's rebalance waits meanwhile)."""
        self.ready.clear()
        self.revoked.update(partitions)
        if self._drained.is_set():
            return
        try:
            await asyncio.wait_for(self._drained.wait(), self.drain_seconds)
        except TimeoutError:
            # What still runs may finish after the next owner's replay: the documented gap.
            log.warning("state_drain_timed_out", topic=self.topic, holders=self._holders,
                        seconds=self.drain_seconds)

    def get(self, key: str) -> V | None:
        return self._values.get(key)

    def partition_of(self, key: str) -> int | None:
        return self._partition_of.get(key)

    def items(self) -> Iterator[tuple[str, V]]:
        return iter(list(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)

    async def put(self, key: str, value: V, partition: int) -> None:
        # The changelog write is acknowledged before memory changes, and callers commit their
        # input offset only after this returns: state is never ahead of what Kafka holds.
        await self._producer.send(self.topic, self._encode(value), key, partition)
        self.remember([(key, value, partition)])

    async def put_many(self, items: list[tuple[str, V, int]]) -> None:
        """Like put for many keys, acknowledged together (one round trip instead of many)."""
        await self._producer.send_records([self.record(k, v, p) for k, v, p in items])
        self.remember(items)

    def record(self, key: str, value: V, partition: int) -> Record:
        """The changelog record of a value, for callers that write it along with others; they
        call remember() once it is acknowledged."""
        raw_key = key.encode()
        return (self.topic, partition, raw_key, self._encode(value), trace_headers(raw_key))

    def _moved(self, partition: int) -> bool:
        return partition in self.revoked and partition not in self._replaying

    def remember(self, items: Iterable[tuple[str, V, int]]) -> None:
        for key, value, partition in items:
            if self._moved(partition):
                continue
            self._values[key] = value
            self._partition_of[key] = partition
            if partition in self._replaying:
                self._written_during_replay.add(key)

    async def delete(self, key: str, partition: int) -> None:
        await self._producer.send(self.topic, None, key, partition)
        if self._moved(partition):
            return
        self._values.pop(key, None)
        self._partition_of.pop(key, None)
        if partition in self._replaying:
            self._written_during_replay.add(key)

    async def recover(self, partitions: Iterable[int]) -> int:
        """Replay the given changelog partitions into memory; returns the records read."""
        parts = sorted(set(partitions))
        if not parts:
            return 0
        self.drop(parts)
        self._replaying.update(parts)
        try:
            read, fresh = await self._replay(parts)
        finally:
            self._replaying.difference_update(parts)
            written, self._written_during_replay = self._written_during_replay, set()
        for key, (partition, value) in fresh.items():
            if key in written:
                continue
            if value is None:
                self._values.pop(key, None)
                self._partition_of.pop(key, None)
            else:
                self._values[key] = value
                self._partition_of[key] = partition
        self.owned.update(parts)
        self.revoked.difference_update(parts)
        self.generation += 1
        # The recovered state lives as long as the process: kept out of the cycle collector's
        # reach, a full collection no longer walks a million plans (a pause of a few tenths of
        # a second, in the middle of the 08:30 reminders). Refcounting still frees replaced
        # values.
        gc.freeze()
        return read

    async def _replay(self, parts: list[int]) -> tuple[int, dict[str, tuple[int, V | None]]]:
        """The latest value (or tombstone) of every key in the partitions, and the records read."""
        started = time.monotonic()
        read = 0
        fresh: dict[str, tuple[int, V | None]] = {}
        async with reading(self._kafka_kwargs, self.topic, partitions=parts,
                           isolation_level="read_committed",
                           max_partition_fetch_bytes=4 * 1024 * 1024) as consumer:
            async for records in to_end(consumer, max_records=10_000):
                for record in records:
                    if record.key is None:
                        continue
                    read += 1
                    try:
                        value = None if record.value is None else self._decode(record.value)
                    except Exception as exc:
                        # A record nobody can read (whatever the decoder raised: a deep nesting
                        # is a RecursionError) must not stop the service from starting; the key
                        # keeps whatever state it had before that record.
                        VIEW_SKIPPED.labels(self.topic).inc()
                        reason = exc.reason if isinstance(exc, EventDecodeError) else \
                            f"{type(exc).__name__}: {str(exc)[:200]}"
                        log.error("state_record_unreadable", topic=self.topic,
                                  partition=record.partition, offset=record.offset,
                                  error=reason)
                        continue
                    fresh[record.key.decode()] = (record.partition, value)
        log.info("state_recovered", topic=self.topic, partitions=parts, records=read,
                 keys=len(fresh), seconds=round(time.monotonic() - started, 3))
        return read, fresh

    def drop(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        for key in [k for k, p in self._partition_of.items() if p in gone]:
            del self._values[key]
            del self._partition_of[key]
        self.owned -= gone
        self.generation += 1


class PartitionMismatch(RuntimeError):
    """A changelog whose partition count differs from its input's: state would be restored into
    the wrong partitions."""


async def check_partitions(kafka_kwargs: dict[str, Any],
                           tables: Iterable[ChangelogTable[Any]]) -> None:
    """Refuse to start, as Faust does, when a changelog has not its inputs' partition count:
    the state of input partition n lives in changelog partition n. (A topic that does not exist
    yet is left to the consumer, which waits for it.)"""
    wanted = [t for t in tables if t.inputs]
    if not wanted:
        return
    async with reading(kafka_kwargs) as consumer:
        for table in wanted:
            have = len(await partition_numbers(consumer, table.topic))
            for topic in table.inputs:
                count = len(await partition_numbers(consumer, topic))
                if count and have and count != have:
                    raise PartitionMismatch(
                        f"{table.topic} has {have} partitions but its input {topic} has "
                        f"{count}: give them the same number (lederkontakt topics create)")


class _TableListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka awaits these callbacks before fetching again, so input waits for the rebuild."""

    def __init__(self, tables: list[ChangelogTable[Any]]) -> None:
        self.tables = tables

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        numbers = {tp.partition for tp in revoked}
        for table in self.tables:
            await table.release(numbers)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Every assigned partition is read again, also one this member held before. A member
        # that missed its heartbeats is thrown out of the group and learns it only later: in
        # between another member owned its partitions and changed their state, and a
        # partition that "comes straight back" would keep the stale copy (timers lost, a
        # ledger that forgets sends). The cost is one rebuild per rebalance.
        numbers = {tp.partition for tp in assigned}
        for table in self.tables:
            table.drop(table.owned - numbers)
            await table.recover(numbers)
            table.ready.set()


def listener_for(*tables: ChangelogTable[Any]) -> ConsumerRebalanceListener:
    return _TableListener(list(tables))
