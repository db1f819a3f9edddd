"""A subscriber that works on records one by one, many at once, and takes up the next poll while
earlier records are still being worked on; offsets are committed per partition up to the first
record not yet done.

The batch subscriber (shared.kafka.consume) commits a batch once its slowest record is done, and
polls again only then: under load every record waits for the slowest one in front of it (for
the notifier, a send that waits for an SMTP connection), and a batch holds what arrived during
the one before. Here a record is admitted as soon as one of `limit` slots is free.

What is committed is never ahead of what is done: per partition, the offset of the first record
not done (or one past the last, when all are). A crash redoes at most the records in flight, as
the batch subscriber does; the handler's own state (the notifier's ledger) answers for what was
done. A record whose handling fails rewinds its partition to the first record not done, so
everything from there comes again (also records done after it: the handler must be idempotent,
as every handler here is). A partition revoked from this member is committed up to what was done
before the revocation began, then forgotten: work finished after that is not committed here, and
the next owner redoes it (the ledger knows it was done).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from faststream.kafka.annotations import KafkaMessage

from shared import telemetry
from shared.kafka import BATCH_WAIT_MS, CO_PARTITIONED, _records_undecoded, still_member_at
from shared.logging import get_logger
from shared.ops import observe_consumed

log = get_logger("pipeline")

RecordHandler = Callable[[Any], Awaitable[None]]
# How long close() waits for records still being worked on.
CLOSE_WAIT_SECONDS = 30.0
# Commits are gathered over this long (one round trip to the group's coordinator for many
# records); a crash redoes at most what finished meanwhile, as it redoes what is in flight.
COMMIT_PAUSE_SECONDS = 0.5
# A fenced pipeline asks the group again before admitting a poll unless a commit succeeded
# within this long (a commit that succeeds is the group's word that this member owns them).
FENCE_FRESH_SECONDS = 0.25


@dataclass
class _Partition:
    """The records of one partition taken up since it was assigned (or last rewound)."""

    epoch: int
    # Offset -> done, in the order the records came (ascending): the first entry not done is
    # where a commit stops.
    pending: dict[int, bool] = field(default_factory=dict)
    done_until: int | None = None

    def point(self) -> int | None:
        """The offset to commit: the first record not done, or one past the last done."""
        while self.pending:
            first = next(iter(self.pending))
            if not self.pending[first]:
                return first
            del self.pending[first]
            self.done_until = first + 1
        return self.done_until


class Pipeline:
    """Per-record work with per-partition commits; see the module's docstring. `revoking` is
    awaited first on a revocation (the handler's state letting go of the partitions)."""

    def __init__(self, service: str, handle: RecordHandler, limit: int) -> None:
        self.service = service
        self._handle = handle
        self._slots = asyncio.Semaphore(max(1, limit))
        self._parts: dict[TopicPartition, _Partition] = {}
        self._epochs = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._consumer: Any = None
        self._commit_wanted = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._closing = False
        self._confirmed_at = -1e9  # monotonic time of the last commit the group took

    # The consumer side -------------------------------------------------------------------

    async def take(self, consumer: Any, records: Sequence[Any]) -> None:
        """Admit a poll's records, each as soon as a slot is free; return once all are admitted
        (the subscriber then polls again)."""
        if self._closing:
            return  # not committed: whoever owns the partitions next reads them again
        self._consumer = consumer
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_forever())
        epochs = {tp: part.epoch for tp, part in self._parts.items()}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            part = self._parts.get(tp)
            if part is None and tp not in epochs:
                part = self._parts[tp] = _Partition(self._next_epoch())
                epochs[tp] = part.epoch
            await self._slots.acquire()
            part = self._parts.get(tp)
            if part is None or part.epoch != epochs[tp] or self._closing:
                # Rewound or revoked while this poll was admitted: it comes again.
                self._slots.release()
                continue
            part.pending[record.offset] = False
            task = asyncio.create_task(self._run(tp, part.epoch, record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def offer(self, consumer: Any, records: Sequence[Any], fenced: bool) -> None:
        """A poll's records: admitted once the group confirmed this member (when `fenced`).
        Whatever keeps them from being admitted, their partitions are read again from what is
        safe to commit: the consumer's position has passed them, and nothing else would bring
        them back (no commit covers them, but a later one would pass them)."""
        safe = self.points(records)
        try:
            if fenced and not self.confirmed_lately():
                if not await still_member_at(consumer, safe, self.service, len(records)):
                    return  # not a member: the partitions go to their new owner
                self.confirmed()
        except Exception as exc:
            log.warning("poll_not_admitted", service=self.service, records=len(records),
                        error=type(exc).__name__)
            for tp, offset in safe.items():
                self._parts.pop(tp, None)  # as a rewind: what is in flight on it comes again
                with contextlib.suppress(IllegalStateError, AssertionError):
                    consumer.seek(tp, offset)
            return
        await self.take(consumer, records)

    def confirmed_lately(self) -> bool:
        return time.monotonic() - self._confirmed_at < FENCE_FRESH_SECONDS

    def confirmed(self) -> None:
        self._confirmed_at = time.monotonic()

    def points(self, records: Sequence[Any]) -> dict[TopicPartition, int]:
        """What is safe to commit for the partitions of `records` (before they are admitted)."""
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            part = self._parts.get(tp)
            point = part.point() if part is not None else None
            first = min(offsets.get(tp, record.offset), record.offset)
            offsets[tp] = point if point is not None else first
        return offsets

    async def _run(self, tp: TopicPartition, epoch: int, record: Any) -> None:
        try:
            with telemetry.consuming(self.service, [record]):
                telemetry.handling(record)
                await self._handle(record)
        except Exception as exc:
            log.warning("record_failed", service=self.service, topic=tp.topic,
                        partition=tp.partition, offset=record.offset, error=type(exc).__name__)
            self._rewind(tp, epoch)
        else:
            part = self._parts.get(tp)
            if part is not None and part.epoch == epoch and record.offset in part.pending:
                part.pending[record.offset] = True
                self._commit_wanted.set()
        finally:
            self._slots.release()

    def _rewind(self, tp: TopicPartition, epoch: int) -> None:
        """Read the partition again from its first record not done; the records in flight on it
        are no longer counted (they come again)."""
        part = self._parts.get(tp)
        if part is None or part.epoch != epoch:
            return  # already rewound (to an offset no later than this one) or revoked
        point = part.point()
        del self._parts[tp]
        if point is None:
            return
        with contextlib.suppress(IllegalStateError, AssertionError):
            self._consumer.seek(tp, point)
            log.info("partition_rewound", service=self.service, topic=tp.topic,
                     partition=tp.partition, offset=point)

    def _next_epoch(self) -> int:
        self._epochs += 1
        return self._epochs

    # Commits -----------------------------------------------------------------------------

    async def _commit_forever(self) -> None:
        while True:
            await self._commit_wanted.wait()
            await asyncio.sleep(COMMIT_PAUSE_SECONDS)
            self._commit_wanted.clear()
            await self.commit()

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        """Commit what is done: of `only`, or else of the partitions assigned to this member."""
        if self._consumer is None:
            return
        among = only if only is not None else self._consumer.assignment()
        offsets = {tp: point for tp, part in list(self._parts.items())
                   if tp in among and (point := part.point()) is not None}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
            self._confirmed_at = time.monotonic()
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # Not a member any more, or the coordinator away: the records come again to whoever
            # owns them, and the handler's state answers for what was done.
            log.warning("commit_failed", service=self.service, partitions=len(offsets),
                        error=type(exc).__name__)

    # Rebalances --------------------------------------------------------------------------

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        await self.commit(only=revoked)
        for tp in revoked:
            self._parts.pop(tp, None)

    def assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self._parts.pop(tp, None)  # what this member knew of it is stale: start afresh

    async def close(self) -> None:
        """Take no more records; let those in flight finish (up to CLOSE_WAIT_SECONDS) and
        commit them. Called before the consumer stops."""
        self._closing = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=CLOSE_WAIT_SECONDS)
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        await self.commit()


class PipelineListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs `inner` (the state tables' listener) and keeps the pipeline's commits in step: on a
    revocation, the tables let go first (waiting for the work that holds them), then what was
    done is committed and the partitions forgotten."""

    def __init__(self, pipeline: Pipeline, inner: ConsumerRebalanceListener | None) -> None:
        self.pipeline = pipeline
        self.inner = inner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # What is done now is committed before the tables wait: work that ends while they
        # wait may also end after the next owner took the partition, so it is not counted.
        await self.pipeline.revoked(revoked)
        if self.inner is not None:
            await self.inner.on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.pipeline.assigned(assigned)
        if self.inner is not None:
            await self.inner.on_partitions_assigned(assigned)


def consume_pipelined(broker: Any, topic: str, *, group_id: str, pipeline: Pipeline,
                      listener: ConsumerRebalanceListener | None, batch_size: int,
                      fenced: bool = False) -> None:
    """Like shared.kafka.consume, with the records handed to `pipeline` one by one. `fenced`:
    before a poll's records are admitted, the group must have confirmed within
    FENCE_FRESH_SECONDS that this member still owns its partitions (a commit of what is safe to
    commit, shared.kafka.still_member_at); a commit per poll would be one per record at light
    load, and the coordinator writes each."""
    from faststream.middlewares import AckPolicy

    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message
        for record in records:
            observe_consumed(pipeline.service, record, msg.consumer)
        await pipeline.offer(msg.consumer, records, fenced)

    on_batch.__name__ = on_batch.__qualname__ = getattr(pipeline._handle, "__name__", "on_record")
    broker.subscriber(
        topic, group_id=group_id, listener=PipelineListener(pipeline, listener),
        auto_offset_reset="earliest", ack_policy=AckPolicy.MANUAL,
        partition_assignment_strategy=CO_PARTITIONED, batch=True, max_records=batch_size,
        batch_timeout_ms=BATCH_WAIT_MS, decoder=_records_undecoded)(on_batch)
