"""For a data-subject request the operator gets a person's keyed id from their e-mail or phone,
under the deployment's key, and is refused without it."""

from __future__ import annotations

import pytest

from services.cli import main
from services.referral.domain.intake import decide_intake
from shared.events import PersonUpserted
from tests.samples import AT, referral

KEY = "the-deployment-key"


def _ids_the_intake_gives() -> dict[str, str]:
    decision = decide_intake(None, referral(), AT, id_key=KEY.encode())
    return {str(e.person.email): e.person.person_id for e in decision.outputs
            if isinstance(e, PersonUpserted)}


def test_the_id_from_an_e_mail_is_the_one_the_intake_gave(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDERKONTAKT_PERSON_ID_KEY", KEY)
    assert main(["people", "id", "--email", "Emma@Example.org"]) == 0
    assert capsys.readouterr().out.strip() == _ids_the_intake_gives()["emma@example.org"]


def test_the_id_from_a_phone_number_as_people_write_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDERKONTAKT_PERSON_ID_KEY", KEY)
    employee = referral().employee.model_copy(update={"email": None})
    expected = decide_intake(None, referral(employee=employee), AT, id_key=KEY.encode())
    [emma] = [e.person.person_id for e in expected.outputs
              if isinstance(e, PersonUpserted) and e.person.name == "Emma Employee"]
    assert main(["people", "id", "--phone", "20 30 40 50"]) == 0
    assert capsys.readouterr().out.strip() == emma


def test_without_the_key_no_id_is_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LEDERKONTAKT_PERSON_ID_KEY", raising=False)
    assert main(["people", "id", "--email", "emma@example.org"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "LEDERKONTAKT_PERSON_ID_KEY" in captured.err
