"""What the services ask of the broker while little happens: an idle subscriber polls about
once a second (a record still reaches it at once), its commits carry the partitions it moved,
and the views of one service catch up together on one end-offset request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.group_coordinator import GroupCoordinator

from shared.kafka import consume, make_broker
from shared.settings import KafkaSettings
from shared.topics import Topics
from shared.views import EndOffsets, GlobalView

pytestmark = pytest.mark.integration


async def test_an_idle_subscriber_polls_about_once_a_second_and_a_record_still_comes_at_once(
    kafka: KafkaSettings, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls: list[float] = []
    getmany = AIOKafkaConsumer.getmany

    async def counted(self: AIOKafkaConsumer, *partitions: Any, **options: Any) -> Any:
        polls.append(time.monotonic())
        return await getmany(self, *partitions, **options)

    monkeypatch.setattr(AIOKafkaConsumer, "getmany", counted)
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def handle(records: Sequence[Any]) -> None:
        for _ in records:
            arrived.put_nowait(time.monotonic())

    broker = make_broker(kafka)
    consume(broker, topics.referrals, group_id=f"{topics.prefix}idle", listener=None,
            service="test", handle=handle, batch_size=10)
    await broker.start()
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs())
    await producer.start()
    try:
        # The group is joined once a first record comes through.
        await producer.send_and_wait(topics.referrals, b"first", key=b"k")
        await asyncio.wait_for(arrived.get(), 30)
        since = len(polls)
        await asyncio.sleep(3)
        idle_polls = len(polls) - since
        sent = time.monotonic()
        await producer.send_and_wait(topics.referrals, b"second", key=b"k")
        came = await asyncio.wait_for(arrived.get(), 10)
    finally:
        await producer.stop()
        await broker.stop()
    assert idle_polls <= 6  # polls of 10 ms each would be some 150 in 3 s
    assert came - sent < 0.5


async def test_the_views_of_one_service_catch_up_together_on_one_end_offset_request(
    kafka: KafkaSettings, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    end_offsets = AIOKafkaConsumer.end_offsets

    async def counted(self: AIOKafkaConsumer, partitions: Any) -> Any:
        asked.append(len(partitions))
        return await end_offsets(self, partitions)

    monkeypatch.setattr(AIOKafkaConsumer, "end_offsets", counted)
    kwargs = kafka.aiokafka_kwargs()
    ends = EndOffsets(kwargs)
    views = [GlobalView(topic, kwargs, bytes, ends)
             for topic in (topics.people, topics.consents, topics.erasures)]
    for view in views:
        await view.start()
    producer = AIOKafkaProducer(**kwargs)
    await producer.start()
    try:
        for view in views:
            await producer.send_and_wait(view.topic, b"value", key=b"written-before")
        asked.clear()
        await asyncio.gather(*(view.catch_up() for view in views))
        seen = [view.get("written-before") for view in views]
    finally:
        await producer.stop()
        for view in views:
            await view.stop()
    assert seen == [b"value"] * 3
    assert len(asked) == 1 and asked[0] == sum(len(view._tps) for view in views)


async def test_the_commit_after_a_batch_carries_only_the_partitions_it_moved(
    kafka: KafkaSettings, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits: list[dict[Any, int]] = []
    commit_offsets = GroupCoordinator.commit_offsets

    async def counted(self: GroupCoordinator, assignment: Any, offsets: Any) -> Any:
        commits.append({tp: at.offset for tp, at in offsets.items()})
        return await commit_offsets(self, assignment, offsets)

    monkeypatch.setattr(GroupCoordinator, "commit_offsets", counted)
    arrived: asyncio.Queue[Any] = asyncio.Queue()

    async def handle(records: Sequence[Any]) -> None:
        for record in records:
            arrived.put_nowait(record)

    broker = make_broker(kafka)
    consume(broker, topics.courses, topics.sessions, group_id=f"{topics.prefix}moved",
            listener=None, service="test", handle=handle, batch_size=10)
    await broker.start()
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(topics.courses, b"first", key=b"k")
        await asyncio.wait_for(arrived.get(), 30)
        await producer.send_and_wait(topics.sessions, b"second", key=b"k")
        second = await asyncio.wait_for(arrived.get(), 10)
        for _ in range(100):
            if commits and commits[-1].get(TopicPartition(topics.sessions, second.partition)):
                break
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
        await broker.stop()
    assert commits[-1] == {TopicPartition(topics.sessions, second.partition): second.offset + 1}


async def test_an_idle_view_fetches_rarely_and_still_holds_a_new_record_at_once(
    kafka: KafkaSettings, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches: list[float] = []
    fetch = Fetcher._proc_fetch_request

    async def counted(self: Fetcher, *args: Any) -> Any:
        fetches.append(time.monotonic())
        return await fetch(self, *args)

    monkeypatch.setattr(Fetcher, "_proc_fetch_request", counted)
    kwargs = kafka.aiokafka_kwargs()
    view: GlobalView[bytes] = GlobalView(topics.people, kwargs, bytes)
    await view.start()
    producer = AIOKafkaProducer(**kwargs)
    await producer.start()
    try:
        since = len(fetches)
        await asyncio.sleep(3)
        idle_fetches = len(fetches) - since
        sent = time.monotonic()
        await producer.send_and_wait(topics.people, b"value", key=b"new")
        await view.catch_up()
        caught_up = time.monotonic() - sent
    finally:
        await producer.stop()
        await view.stop()
    assert idle_fetches <= 2  # fetches of 500 ms would be six
    assert view.get("new") == b"value" and caught_up < 0.5
