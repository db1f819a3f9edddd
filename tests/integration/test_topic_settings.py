"""Existing topics are brought to the registry's retention settings, and every difference is
named before it is changed."""

from __future__ import annotations

import asyncio

import pytest

from shared.settings import KafkaSettings
from shared.topics import RetentionSettings, Topics, reconcile_topics

pytestmark = pytest.mark.integration


async def test_existing_topics_are_compared_and_altered_to_the_registry(
    kafka: KafkaSettings, topics: Topics
) -> None:
    shorter = RetentionSettings(erasure_bound_ms=80_000)
    # Topics just created reach every broker's metadata a moment later.
    named: set[tuple[str, str]] = set()
    expected = {(topics.referrals, "retention.ms"), (topics.dlq("people"), "segment.ms"),
                (topics.people, "max.compaction.lag.ms"), (topics.erasures, "segment.ms")}
    for _ in range(40):
        differences = await reconcile_topics(kafka.aiokafka_kwargs(), topics, alter=False,
                                             retention=shorter)
        named = {(d.topic, d.key) for d in differences}
        if expected <= named:
            break
        await asyncio.sleep(0.5)
    assert await reconcile_topics(kafka.aiokafka_kwargs(), topics, alter=False) == []
    assert expected <= named
    assert (topics.courses, "retention.ms") not in named  # not personal: unchanged
    text = str(next(d for d in differences if (d.topic, d.key) == (topics.referrals,
                                                                      "retention.ms")))
    assert text == f"{topics.referrals}: retention.ms is 43200000, want 40000"

    await reconcile_topics(kafka.aiokafka_kwargs(), topics, alter=True, retention=shorter)
    # The broker applies an alteration once the controller's metadata record reaches it.
    left: list[object] = []
    for _ in range(40):
        left = list(await reconcile_topics(kafka.aiokafka_kwargs(), topics, alter=False,
                                           retention=shorter))
        if not left:
            break
        await asyncio.sleep(0.5)
    assert left == []
