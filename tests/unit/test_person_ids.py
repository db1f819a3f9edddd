"""Person ids are keyed: stable for whoever holds the key, not computable from an e-mail by
anyone else; nothing shaped like a CPR number is ever an id."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

import pytest
from pydantic import TypeAdapter, ValidationError

from services.referral.domain.intake import decide_intake, keyed_id, person_id_for
from shared.events import PersonErased, PersonUpserted
from shared.events.fields import ExternalId
from shared.events.intake import ReferredPerson
from shared.events.people import PersonId
from tests.samples import referral

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_person_id_is_the_same_under_one_key_and_differs_under_another() -> None:
    person = ReferredPerson(name="Mette Hansen", email="mette@example.dk")
    same = ReferredPerson(name="M. Hansen", email="METTE@example.dk")
    assert person_id_for(person, b"k1") == person_id_for(same, b"k1")
    assert person_id_for(person, b"k1") != person_id_for(person, b"k2")


def test_a_person_id_cannot_be_recomputed_from_the_e_mail_without_the_key() -> None:
    person = ReferredPerson(name="Mette Hansen", email="mette@example.dk")
    pid = person_id_for(person, b"secret")
    handle = "mette@example.dk"
    guesses = {
        uuid5(uuid5(NAMESPACE_URL, "https://lederkontakt/ids"), f"person/{handle}").hex[:20],
        hashlib.sha256(handle.encode()).hexdigest()[:24],
        hashlib.sha256(f"person/{handle}".encode()).hexdigest()[:24],
    }
    assert pid.removeprefix("p-") not in guesses
    assert handle not in pid


def test_the_intake_names_people_by_ids_under_its_key() -> None:
    def derived(key: bytes) -> set[str]:
        return {e.person.person_id for e in decide_intake(None, referral(), NOW, id_key=key).outputs
                if isinstance(e, PersonUpserted) and e.person.person_id.startswith("p-")}

    assert derived(b"k1") and derived(b"k1").isdisjoint(derived(b"k2"))


CPR_SHAPED_IDS = ["0101901234", "010190-1234", "p-010190-1234", "x:2512894321", "e0101901234",
                  "p-010190.1234", "p-01.01.90-1234", "p-0101901234abcdef", "p-01-01-90-1234",
                  "p-0101-90-1234", "p-010190_1234", "p-010190:1234"]


@pytest.mark.parametrize("pid", CPR_SHAPED_IDS)
def test_an_id_shaped_like_a_cpr_number_is_refused(pid: str) -> None:
    with pytest.raises(ValidationError, match="CPR"):
        PersonErased(occurred_at=NOW, person_id=pid)


@pytest.mark.parametrize("pid", CPR_SHAPED_IDS)
def test_person_ids_and_intake_ids_refuse_the_same_cpr_shapes(pid: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(ExternalId).validate_python(pid)
    with pytest.raises(ValidationError):
        TypeAdapter(PersonId).validate_python(pid)


@pytest.mark.parametrize("pid", ["psy-1", "p-01019012345", "p-123456789", "c-0a1b2c3d4e"])
def test_ordinary_ids_pass(pid: str) -> None:
    assert PersonErased(occurred_at=NOW, person_id=pid).person_id == pid


def test_a_keyed_id_never_holds_a_cpr_shaped_run_and_stays_stable() -> None:
    ids = [keyed_id(f"person{n}@example.dk", b"k1") for n in range(2000)]
    assert all(TypeAdapter(PersonId).validate_python(pid) == pid for pid in ids)
    assert ids == [keyed_id(f"PERSON{n}@example.dk", b"k1") for n in range(2000)]
    # Most ids are the first digest, as they always were.
    assert sum(pid == "p-" + hmac.new(b"k1", f"person/person{n}@example.dk".encode(),
                                      hashlib.sha256).hexdigest()[:24]
               for n, pid in enumerate(ids)) > 1900
