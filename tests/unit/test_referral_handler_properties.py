"""Whatever bytes arrive on `referrals`, the handler never raises: each message is processed
or dead-lettered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.referral.domain.intake import IntakeRecord
from services.referral.handlers import ReferralHandlers
from shared.events import ConsentRecorded, encode_event
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import FakeProducer, Record, natural_key
from tests.samples import referral

TOPICS = Topics("p-")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
VALID = json.loads(encode_event(referral("r-prop")))
mutated_referrals = st.dictionaries(st.sampled_from(sorted(VALID)), json_values, max_size=3).map(
    lambda changes: json.dumps({**VALID, **changes}).encode())
payloads = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                     mutated_referrals)


def _handlers() -> tuple[ReferralHandlers, FakeProducer]:
    producer = FakeProducer()
    intake: ChangelogTable[IntakeRecord] = ChangelogTable(
        "dedup", {}, producer, encode=lambda r: r.model_dump_json().encode(),
        decode=IntakeRecord.model_validate_json)
    consents: ChangelogTable[ConsentRecorded] = ChangelogTable(
        "consents", {}, producer, encode=encode_event,
        decode=ConsentRecorded.model_validate_json)
    intake.ready.set()
    consents.ready.set()
    return ReferralHandlers(TOPICS, producer, intake, consents), producer


@settings(max_examples=300, deadline=None)
@given(raw=payloads)
def test_any_bytes_end_processed_or_in_the_dlq(raw: bytes) -> None:
    handlers, producer = _handlers()
    asyncio.run(handlers.on_referral(Record(TOPICS.referrals, raw, natural_key(raw), 0, 0)))
    dead = producer.on(TOPICS.dlq("referrals"))
    opened = producer.on(TOPICS.courses)
    assert (len(dead), len(opened)) in {(1, 0), (0, 1), (0, 0)}
    if dead:
        assert dead[0].value == raw and dead[0].headers["dlq.reason"]
    elif not opened:  # a withdrawal of an unknown referral: remembered, nothing published
        assert producer.on("dedup")


@settings(max_examples=200, deadline=None)
@given(raw=payloads)
def test_any_bytes_on_sessions_end_processed_ignored_or_in_the_dlq(raw: bytes) -> None:
    handlers, producer = _handlers()
    asyncio.run(handlers.on_course_or_session(Record(TOPICS.sessions, raw, natural_key(raw), 0, 0)))
    assert len(producer.on(TOPICS.dlq("sessions"))) <= 1


def test_a_batch_writes_people_before_the_courses_and_requests_that_name_them() -> None:
    handlers, producer = _handlers()
    batch = [Record(TOPICS.referrals, encode_event(referral(f"r-{i % 3}")), f"r-{i % 3}".encode(), 0, i)
             for i in range(5)]  # r-0 and r-1 twice
    asyncio.run(handlers.on_referrals(batch))
    topics = [s.topic for s in producer.sent]
    last_person = max(i for i, t in enumerate(topics) if t == TOPICS.people)
    first_request = topics.index(TOPICS.notifications_requested)
    assert last_person < topics.index(TOPICS.courses) < first_request
    assert len(producer.on(TOPICS.courses)) == 3
    assert len(producer.on(TOPICS.notifications_requested)) == 3


def test_a_referral_the_intake_rules_cannot_decide_goes_to_the_dlq(monkeypatch: Any) -> None:
    import services.referral.handlers as module

    real = module.decide_intake

    def failing(known: Any, event: Any, now: Any, *args: Any) -> Any:
        if event.referral_id == "r-bad":
            raise ValueError("no rule for this")
        return real(known, event, now, *args)

    monkeypatch.setattr(module, "decide_intake", failing)
    handlers, producer = _handlers()
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(referral("r-bad")), b"r-bad", 0, 0),
        Record(TOPICS.referrals, encode_event(referral("r-good")), b"r-good", 0, 1)]))
    dead = producer.on(TOPICS.dlq("referrals"))
    assert len(dead) == 1 and "intake failed: ValueError" in dead[0].headers["dlq.reason"]
    assert len(producer.on(TOPICS.courses)) == 1
