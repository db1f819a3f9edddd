"""Dead-letter queues for operators: list what is there and why, re-publish what was fixed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from services.referral.config import ReferralSettings
from services.referral.domain.intake import person_id_for
from shared.events import EventDecodeError, ReferralSubmitted, decode_event
from shared.kafka import EventProducer
from shared.reader import reading, to_end
from shared.settings import KafkaSettings
from shared.topics import Topics


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    source_topic: str


async def read_dlq(settings: KafkaSettings, base_topic: str) -> list[DeadLetter]:
    topic = Topics(settings.topic_prefix).dlq(base_topic)
    letters: list[DeadLetter] = []
    async with reading(settings.aiokafka_kwargs(), topic, partitions=[0]) as consumer:
        async for records in to_end(consumer):
            for r in records:
                headers = {k: v.decode(errors="replace") for k, v in r.headers}
                letters.append(DeadLetter(r.offset, r.key, r.value,
                                          headers.get("dlq.reason", "?"),
                                          headers.get("dlq.source.topic", "")))
    return letters


async def erased_people(settings: KafkaSettings) -> set[str]:
    """The ids on the compacted `erasures` topic: people erased, whose records stay erased."""
    erased: dict[str, bool] = {}
    async with reading(settings.aiokafka_kwargs(), Topics(settings.topic_prefix).erasures) as consumer:
        async for records in to_end(consumer):
            for r in records:
                if r.key is not None:
                    erased[r.key.decode(errors="replace")] = r.value is not None
    return {person for person, is_erased in erased.items() if is_erased}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def people_named(raw: bytes | None, id_key: bytes) -> set[str]:
    """Every id a record could name a person by: any string in it, and for a referral the ids
    the intake derives from its parties' contact details."""
    if raw is None:
        return set()
    try:
        named = set(_strings(json.loads(raw)))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return set()
    try:
        event = decode_event(raw, (ReferralSubmitted,))
    except EventDecodeError:
        return named
    assert isinstance(event, ReferralSubmitted)
    parties = (event.employee, event.leader, event.psychologist, event.team_lead)
    return named | {person_id_for(p, id_key) for p in parties if p is not None}


@dataclass
class ReplayOutcome:
    replayed: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


async def replay_checked(settings: KafkaSettings, base_topic: str, offsets: list[int],
                         replacement: bytes | None = None,
                         id_key: bytes | None = None) -> ReplayOutcome:
    """Re-publish the chosen dead letters to `base_topic` (never to a topic a header names:
    anyone who can write the DLQ could otherwise publish anywhere), with their key; a record
    naming an erased person is refused, so a replay cannot bring them back. With
    `replacement`, a single chosen message is re-published with those bytes instead."""
    if replacement is not None and len(offsets) != 1:
        raise ValueError("a replacement body needs exactly one --offset")
    key = id_key if id_key is not None else ReferralSettings().id_key
    chosen = [d for d in await read_dlq(settings, base_topic) if not offsets or d.offset in offsets]
    erased = await erased_people(settings) if chosen else set()
    destination = Topics(settings.topic_prefix).name(base_topic)
    outcome = ReplayOutcome()
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    try:
        for letter in chosen:
            value = replacement if replacement is not None else letter.value
            if people_named(value, key) & erased:
                outcome.refused.append((letter.offset, "names an erased person"))
                continue
            await producer.send(destination, value, letter.key.decode() if letter.key else None,
                                headers={"dlq.replayed.from.offset": str(letter.offset)})
            outcome.replayed.append(letter.offset)
    finally:
        await producer.stop()
    return outcome


async def replay(settings: KafkaSettings, base_topic: str, offsets: list[int],
                 replacement: bytes | None = None) -> int:
    """How many of the chosen dead letters were re-published (see `replay_checked`)."""
    return len((await replay_checked(settings, base_topic, offsets, replacement)).replayed)
