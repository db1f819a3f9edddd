"""The referral service refuses to start without the secret behind person ids and without the
staff directory, unless it is told it runs for development: with either missing, anyone could
compute a person's id from their e-mail, or make anyone a course's psychologist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.referral.app import create_app
from services.referral.config import ReferralSettings

REPO = Path(__file__).resolve().parents[2]
STAFF = """email_domains = ["tidlig.dk"]
[[staff]]
id = "psy-1"
name = "Pia Psykolog"
email = "pia@tidlig.dk"
roles = ["psychologist"]
"""


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("LEDERKONTAKT_DEVELOPMENT", "LEDERKONTAKT_PERSON_ID_KEY",
                 "LEDERKONTAKT_STAFF_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_the_key_or_the_directory_the_service_refuses_to_start(
    production: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SystemExit) as refused:
        create_app()
    message = str(refused.value)
    assert message.startswith("referral: refusing to start")
    assert "LEDERKONTAKT_PERSON_ID_KEY" in message and "LEDERKONTAKT_STAFF_FILE" in message


def test_an_empty_key_counts_as_none(production: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "staff.toml").write_text(STAFF)
    production.setenv("LEDERKONTAKT_STAFF_FILE", str(tmp_path / "staff.toml"))
    production.setenv("LEDERKONTAKT_PERSON_ID_KEY", "")
    reason = ReferralSettings().refusal()
    assert reason is not None and "LEDERKONTAKT_PERSON_ID_KEY" in reason
    assert "LEDERKONTAKT_STAFF_FILE" not in reason


def test_a_staff_file_that_cannot_be_read_is_named_in_the_refusal(
    production: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    production.setenv("LEDERKONTAKT_PERSON_ID_KEY", "a-long-deployment-secret")
    production.setenv("LEDERKONTAKT_STAFF_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(SystemExit, match=r"staff directory .*missing\.toml cannot be read"):
        create_app()


def test_with_both_or_in_development_it_may_start(
    production: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    (tmp_path / "staff.toml").write_text(STAFF)
    production.setenv("LEDERKONTAKT_STAFF_FILE", str(tmp_path / "staff.toml"))
    production.setenv("LEDERKONTAKT_PERSON_ID_KEY", "a-long-deployment-secret")
    assert ReferralSettings().refusal() is None
    production.delenv("LEDERKONTAKT_STAFF_FILE")
    production.delenv("LEDERKONTAKT_PERSON_ID_KEY")
    production.setenv("LEDERKONTAKT_DEVELOPMENT", "1")
    assert ReferralSettings().refusal() is None


def test_the_process_exits_with_the_reason_before_it_reaches_for_kafka() -> None:
    env = {k: v for k, v in os.environ.items() if k not in (
        "LEDERKONTAKT_DEVELOPMENT", "LEDERKONTAKT_PERSON_ID_KEY", "LEDERKONTAKT_STAFF_FILE")}
    # A broker nobody listens on: the refusal must come first, not a wait for Kafka.
    env.update(PYTHONPATH=str(REPO), LEDERKONTAKT_BOOTSTRAP_SERVERS="127.0.0.1:9",
               LEDERKONTAKT_HTTP_PORT="0")
    done = subprocess.run([sys.executable, "-m", "services.referral.app"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "referral: refusing to start" in done.stderr
    assert "LEDERKONTAKT_DEVELOPMENT=1" in done.stderr


def test_the_example_staff_directory_is_a_valid_one() -> None:
    settings = ReferralSettings(staff_file=REPO / "config" / "staff.example.toml")
    directory = settings.staff()
    assert directory is not None and directory.member("psy-1") is not None
