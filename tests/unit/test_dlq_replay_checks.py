"""What `dlq replay` checks before it re-publishes anything: the person id key is there, and
every way a dead letter could name an erased person is looked at."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.cli import main
from services.ops.dlq import (
    PersonIdKeyMissing,
    check_replay_may_write,
    people_named,
    replay_checked,
)
from services.referral.domain.intake import person_id_for
from shared.events import encode_event
from shared.settings import KafkaSettings
from tests.samples import referral

KEY = b"the-deployment-key"


def test_replaying_referrals_without_the_person_id_key_is_refused_before_reading_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEDERKONTAKT_PERSON_ID_KEY", raising=False)
    # No broker listens here: the refusal comes before any connection.
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    with pytest.raises(PersonIdKeyMissing, match="LEDERKONTAKT_PERSON_ID_KEY"):
        asyncio.run(replay_checked(settings, "referrals", []))


def test_the_cli_says_why_it_refuses_a_referral_replay_without_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LEDERKONTAKT_PERSON_ID_KEY", raising=False)
    monkeypatch.setenv("LEDERKONTAKT_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    assert main(["dlq", "replay", "referrals"]) == 2
    err = capsys.readouterr().err
    assert "LEDERKONTAKT_PERSON_ID_KEY" in err and "erased" in err


def test_a_referral_that_no_longer_decodes_still_yields_the_ids_of_its_people() -> None:
    body = json.loads(encode_event(referral()))
    body["schema_version"] = 2  # what a later release might accept, this one does not
    raw = json.dumps(body).encode()
    named = people_named(raw, KEY)
    employee = referral().employee
    assert person_id_for(employee, KEY) in named
    assert person_id_for(employee.model_copy(update={"email": None}), KEY) in named


def test_a_phone_written_another_way_yields_the_same_keyed_id() -> None:
    employee = referral().employee.model_copy(update={"email": None})
    raw = json.dumps({"type": "referral.submitted", "employee": {"phone": "20 30 40 50"}}).encode()
    assert person_id_for(employee, KEY) in people_named(raw, KEY)


def test_replaying_consents_is_refused_with_who_may_write_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDERKONTAKT_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    assert main(["dlq", "replay", "consents"]) == 2
    err = capsys.readouterr().err
    assert "`dlq replay` may not write consents" in err and "referral" in err


def test_replaying_people_is_refused_since_only_the_referral_service_writes_there(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDERKONTAKT_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    assert main(["dlq", "replay", "people"]) == 2
    assert "`dlq replay` may not write people" in capsys.readouterr().err


@pytest.mark.parametrize("topic", ["referrals", "sessions", "courses",
                                   "notifications.requested"])
def test_every_other_topic_with_a_dlq_may_be_replayed(topic: str) -> None:
    check_replay_may_write(topic)
