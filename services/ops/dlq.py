"""Dead-letter queues for operators: list what is there and why, re-publish what was fixed."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from services.referral.config import ReferralSettings
from services.referral.domain.intake import keyed_id, person_id_for
from shared.access import REPLAY, readers_and_writers
from shared.events import EventDecodeError, ReferralSubmitted, decode_event
from shared.events.people import normalise_phone
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


def _handles(value: str) -> Iterator[str]:
    yield unicodedata.normalize("NFC", value).strip()
    try:
        yield normalise_phone(value)
    except ValueError:
        pass


def people_named(raw: bytes | None, id_key: bytes) -> set[str]:
    """Every id a record could name a person by: any string in it, and the keyed id the
    intake would derive from any string in it taken as an e-mail, phone number or name. The
    strings are used whether or not the record still decodes as a referral: one that a later
    release would accept must not get past the check."""
    if raw is None:
        return set()
    try:
        named = set(_strings(json.loads(raw)))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return set()
    derived = {keyed_id(handle, id_key) for s in named for handle in _handles(s) if handle}
    try:
        event = decode_event(raw, (ReferralSubmitted,))
    except EventDecodeError:
        return named | derived
    assert isinstance(event, ReferralSubmitted)
    parties = (event.employee, event.leader, event.psychologist, event.team_lead)
    return named | derived | {person_id_for(p, id_key) for p in parties if p is not None}


class ReplayRefused(Exception):
    """A replay the operator may not or cannot do safely; nothing was read or published."""


class PersonIdKeyMissing(ReplayRefused):
    """Replaying referrals needs the key the intake derives person ids under: without it the
    check against erased people would compute the wrong ids and let them back in."""


def check_replay_may_write(base_topic: str) -> None:
    """Dead letters are replayed only onto topics the access table lets the replay principal
    write: `consents`, for one, holds people's own statements of consent, which only the
    referral service writes."""
    if base_topic not in REPLAY.writes:
        writers = readers_and_writers(base_topic)[1]
        raise ReplayRefused(
            f"`dlq replay` may not write {base_topic} (only {', '.join(writers) or 'nobody'} "
            f"may, see `lederkontakt acls print`), so its dead letters cannot be replayed "
            f"from here")


# Topics whose records name people by e-mail or phone, so checking them needs the id key.
NEEDS_ID_KEY = frozenset({"referrals"})


def replay_id_key(base_topic: str, id_key: bytes | None) -> bytes:
    """The key to derive ids under: the one given, else LEDERKONTAKT_PERSON_ID_KEY; the
    development key is never assumed for a topic that needs the key."""
    if id_key is not None:
        return id_key
    settings = ReferralSettings()
    if settings.uses_development_key and base_topic in NEEDS_ID_KEY:
        raise PersonIdKeyMissing(
            f"replaying {base_topic} needs LEDERKONTAKT_PERSON_ID_KEY, the referral service's "
            "key: without it the records cannot be checked against erased people")
    return settings.id_key


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
    check_replay_may_write(base_topic)
    key = replay_id_key(base_topic, id_key)
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
                 replacement: bytes | None = None, id_key: bytes | None = None) -> int:
    """How many of the chosen dead letters were re-published (see `replay_checked`)."""
    outcome = await replay_checked(settings, base_topic, offsets, replacement, id_key)
    return len(outcome.replayed)
