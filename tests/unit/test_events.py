import json

import pytest

from shared.events import EVENT_TYPES, EventDecodeError, decode_event, encode_event
from shared.events.people import ContactDetails
from tests.samples import one_of_each, referral


def test_every_event_type_has_a_sample_that_survives_a_round_trip() -> None:
    samples = one_of_each()
    assert {e.type for e in samples} == set(EVENT_TYPES)  # type: ignore[attr-defined]
    for event in samples:
        assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "course.exploded", "schema_version": 1}', "unknown event type"),
        (b'{"schema_version": 1}', "unknown event type"),
        (b'{"type": "course.ended", "schema_version": 7}', "unsupported schema_version"),
        (b'{"type": "course.ended", "schema_version": 1}', "invalid course.ended"),
        (b'{"type": "course.ended", "schema_version": []}', "unsupported schema_version"),
        (b'{"type": "course.ended", "schema_version": true}', "unsupported schema_version"),
        (None, "tombstone"),
        (b"{" + b" " * 300_000 + b"}", "exceeds"),
    ],
)
def test_undecodable_messages_raise_one_error_type_with_a_reason(
    raw: bytes | None, reason: str
) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert reason in caught.value.reason


def test_an_event_on_the_wrong_topic_is_refused() -> None:
    from shared.events import CourseStarted

    with pytest.raises(EventDecodeError, match="does not belong"):
        decode_event(encode_event(referral()), expected=(CourseStarted,))


def test_occurred_at_must_carry_a_timezone() -> None:
    data = json.loads(encode_event(referral()))
    data["occurred_at"] = "2026-11-26T09:00:00"
    with pytest.raises(EventDecodeError, match="occurred_at"):
        decode_event(json.dumps(data).encode())


def test_unexpected_fields_are_refused_so_no_free_text_slips_through() -> None:
    data = json.loads(encode_event(referral()))
    data["diagnosis"] = "anything"
    with pytest.raises(EventDecodeError, match="diagnosis"):
        decode_event(json.dumps(data).encode())


def test_phone_numbers_are_normalised_to_e164_with_denmark_as_default() -> None:
    assert ContactDetails(name="A", phone="20 30 40 50").phone == "+4520304050"
    assert ContactDetails(name="A", phone="+46 70 123 45 67").phone == "+46701234567"


def test_emails_are_validated_and_domains_lowercased() -> None:
    assert ContactDetails(name="A", email="Lars@Example.ORG").email == "Lars@example.org"
    with pytest.raises(ValueError, match="email"):
        ContactDetails(name="A", email="lars at example")


def test_names_with_control_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="control"):
        ContactDetails(name="Lars\x1b[31m")


def test_a_referral_needs_a_reachable_employee_and_a_leader_email() -> None:
    from shared.events import ReferredPerson

    with pytest.raises(ValueError, match="neither e-mail nor phone"):
        referral(employee=ReferredPerson(name="No Contact"))
    with pytest.raises(ValueError, match="leader has no e-mail"):
        referral(leader=ReferredPerson(name="Lars", phone="+4521314151"))
