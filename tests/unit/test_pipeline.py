"""Records worked on one by one, many at once: what is committed never passes a record that is
not done, a failure reads its partition again from there, a slow record does not hold up the
records behind it, and a revoked partition's late work is not committed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from shared.pipeline import Pipeline
from tests.fakes import Record

TP = TopicPartition("t", 0)


class Consumer:
    """The calls the pipeline makes on aiokafka's consumer."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.assigned = {TP, TopicPartition("t", 1)}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[TopicPartition]:
        return self.assigned


def record(offset: int, partition: int = 0) -> Any:
    return Record("t", b"{}", b"k", partition=partition, offset=offset)


class Gated:
    """A handler whose records finish when the test says so (or fail)."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Future[None]] = {}
        self.started: list[int] = []

    async def __call__(self, rec: Any) -> None:
        self.started.append(rec.offset)
        gate = self.gates.setdefault(rec.offset, asyncio.get_running_loop().create_future())
        await gate

    def finish(self, offset: int, error: Exception | None = None) -> None:
        gate = self.gates.setdefault(offset, asyncio.get_running_loop().create_future())
        if error is None:
            gate.set_result(None)
        else:
            gate.set_exception(error)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_commit_stops_at_the_first_record_not_done() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.take(consumer, [record(10), record(11), record(12)])
        handler.finish(11)
        handler.finish(12)
        await settle()
        await pipeline.commit()
        assert consumer.commits[-1] == {TP: 10}  # 10 is still being worked on
        handler.finish(10)
        await settle()
        await pipeline.commit()
        assert consumer.commits[-1] == {TP: 13}

    asyncio.run(run())


def test_a_slow_record_does_not_hold_up_the_next_poll() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=2)
        await pipeline.take(consumer, [record(1), record(2)])
        handler.finish(2)
        await settle()
        # One slot is free again while record 1 is still being sent: the next poll goes in.
        await asyncio.wait_for(pipeline.take(consumer, [record(3)]), 1)
        await settle()
        assert handler.started == [1, 2, 3]

    asyncio.run(run())


def test_a_failed_record_reads_its_partition_again_from_the_first_not_done() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.take(consumer, [record(5), record(6), record(7)])
        handler.finish(7)
        handler.finish(6, RuntimeError("kafka away"))
        await settle()
        assert consumer.seeks == [(TP, 5)]
        # Record 5 finishing now belongs to the read that was given up: nothing is committed
        # past it, and the records read again are counted afresh.
        handler.finish(5)
        await settle()
        await pipeline.commit()
        assert all(TP not in c for c in consumer.commits)
        handler.gates.clear()
        await pipeline.take(consumer, [record(5), record(6), record(7)])
        for offset in (5, 6, 7):
            handler.finish(offset)
        await settle()
        await pipeline.commit()
        assert consumer.commits[-1] == {TP: 8}

    asyncio.run(run())


def test_work_ending_after_a_revocation_is_not_committed() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.take(consumer, [record(1), record(2), record(3)])
        handler.finish(1)
        await settle()
        await pipeline.revoked({TP})
        assert consumer.commits[-1] == {TP: 2}
        handler.finish(2)
        handler.finish(3)
        await settle()
        await pipeline.commit()
        assert consumer.commits[-1] == {TP: 2}

    asyncio.run(run())


def test_records_still_admitted_after_their_partition_was_revoked_are_left_alone() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=1)
        taking = asyncio.create_task(pipeline.take(consumer, [record(1), record(2)]))
        await settle()  # record 1 holds the only slot; record 2 waits for it
        await pipeline.revoked({TP})
        handler.finish(1)
        await taking
        await settle()
        assert handler.started == [1]

    asyncio.run(run())


def test_the_safe_points_of_a_poll_never_pass_work_in_flight() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.take(consumer, [record(4)])
        # The next poll starts at 5, but 4 is not done: the fence commits 4, not 5.
        assert pipeline.points([record(5), record(9, partition=1)]) == {
            TP: 4, TopicPartition("t", 1): 9}

    asyncio.run(run())


def test_closing_waits_for_the_records_in_flight_and_commits_them() -> None:
    async def run() -> None:
        handler, consumer = Gated(), Consumer()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.take(consumer, [record(1), record(2)])
        closing = asyncio.create_task(pipeline.close())
        await settle()
        await pipeline.take(consumer, [record(3)])  # taken after closing began: left alone
        handler.finish(1)
        handler.finish(2)
        await closing
        assert handler.started == [1, 2]
        assert consumer.commits[-1] == {TP: 3}

    asyncio.run(run())


def test_a_poll_the_group_could_not_be_asked_about_is_read_again() -> None:
    class Unreachable(Consumer):
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            raise KafkaConnectionError("coordinator away")

    async def run() -> None:
        handler, consumer = Gated(), Unreachable()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.offer(consumer, [record(7), record(8)], fenced=True)
        # Neither admitted nor passed over: the partition is read again from 7.
        assert handler.started == [] and consumer.seeks == [(TP, 7)]

    asyncio.run(run())


def test_a_poll_of_a_member_the_group_dropped_is_left_to_the_new_owner() -> None:
    class Dropped(Consumer):
        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            raise CommitFailedError("rebalanced")

    async def run() -> None:
        handler = Gated()
        pipeline = Pipeline("t", handler, limit=8)
        await pipeline.offer(Dropped(), [record(7)], fenced=True)
        assert handler.started == []

    asyncio.run(run())
