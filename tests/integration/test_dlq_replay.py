"""`dlq replay` publishes only to the topic whose DLQ it reads, and never brings back a person
who was erased."""

from __future__ import annotations

import pytest

from services.ops.dlq import replay_checked
from services.referral.domain.intake import person_id_for
from shared.events import PersonErased, encode_event
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_records
from tests.samples import referral

pytestmark = pytest.mark.integration


async def test_a_replay_ignores_the_header_naming_another_topic(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDERKONTAKT_PERSON_ID_KEY", "the-deployment-key")
    raw = encode_event(referral("r-forged"))
    # Whoever can write a DLQ could name `people` as the source and have a replay publish there.
    await producer.dead_letter(topics.dlq("referrals"), raw, b"r-forged", "broken",
                               (topics.people, 0, 0))
    outcome = await replay_checked(kafka, "referrals", [])
    assert outcome.replayed == [0] and outcome.refused == []
    [replayed] = await read_records(kafka, topics.referrals, expect=1)
    assert replayed.value == raw
    assert await read_records(kafka, topics.people, expect=1, timeout=2.0) == []


async def test_a_dead_letter_naming_an_erased_person_is_not_replayed(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator's shell holds the deployment's key, not the development one.
    monkeypatch.setenv("LEDERKONTAKT_PERSON_ID_KEY", "the-deployment-key")
    erased, kept = referral("r-erased"), referral("r-kept")
    kept = kept.model_copy(update={"employee": kept.employee.model_copy(
        update={"email": "someone.else@example.org", "phone": None})})
    for event in (erased, kept):
        await producer.dead_letter(topics.dlq("referrals"), encode_event(event),
                                   event.referral_id.encode(), "broken", (topics.referrals, 0, 0))
    # The referral names the employee by e-mail only; the replay derives the keyed id itself.
    await producer.publish(topics.erasures, PersonErased(
        occurred_at=erased.occurred_at,
        person_id=person_id_for(erased.employee, b"the-deployment-key")))
    outcome = await replay_checked(kafka, "referrals", [])
    assert outcome.refused == [(0, "names an erased person")]
    assert outcome.replayed == [1]
    [replayed] = await read_records(kafka, topics.referrals, expect=1, settle=0.5)
    assert replayed.key == b"r-kept"
