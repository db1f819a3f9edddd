"""What the services ask of the broker while little happens: an idle subscriber polls about
once a second (a record still reaches it at once), and the views of one service catch up
together on one end-offset request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

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
