"""Secrets stay out of reprs, credentials never travel in the clear, `tail` cannot drive the
terminal and shows only ids and states by default."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import SecretStr, ValidationError

from services.notifier.adapters.sms import GatewayApiConfig
from services.notifier.adapters.smtp import SmtpConfig
from services.notifier.config import NotifierSettings
from services.ops.tail import DEFAULT_TOPICS, escape_controls, format_line, topics_for
from shared.kafka import make_broker
from shared.settings import KafkaSettings


def test_adapter_configs_and_settings_never_show_a_secret_in_their_repr() -> None:
    smtp = SmtpConfig(username="u", password=SecretStr("smtp-hunter2"))
    sms = GatewayApiConfig(token=SecretStr("sms-hunter2"))
    settings = NotifierSettings(smtp_username="u", smtp_password="smtp-hunter2",  # type: ignore[arg-type]
                                sms_token="sms-hunter2")  # type: ignore[arg-type]
    kafka = KafkaSettings(sasl_password="kafka-hunter2")  # type: ignore[arg-type]
    text = " ".join(repr(x) + str(x) for x in (smtp, sms, settings, settings.smtp(),
                                                settings.sms(), kafka))
    for secret in ("smtp-hunter2", "sms-hunter2", "kafka-hunter2"):
        assert secret not in text


def test_smtp_credentials_without_starttls_are_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="in the clear"):
        NotifierSettings(smtp_username="u", smtp_password="p",  # type: ignore[arg-type]
                         smtp_require_starttls=False)
    with pytest.raises(ValueError, match="in the clear"):
        SmtpConfig(username="u", password=SecretStr("p"), require_starttls=False)
    assert NotifierSettings(smtp_require_starttls=False).smtp().username is None


def test_sms_goes_over_https_unless_told_otherwise() -> None:
    assert NotifierSettings().sms_base_url.startswith("https://")
    assert GatewayApiConfig().base_url.startswith("https://")


def test_ssl_subscribers_connect_with_the_tls_context() -> None:
    broker = make_broker(KafkaSettings(security_protocol="SSL"))
    # The arguments FastStream gives every subscriber's AIOKafkaConsumer.
    consumer_kwargs = broker.config.broker_config.builder.keywords
    assert consumer_kwargs["security_protocol"] == "SSL"
    assert consumer_kwargs["ssl_context"] is not None


def test_tail_escapes_terminal_codes_bidi_and_line_separators() -> None:
    assert escape_controls("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert escape_controls("x\u202eevil\u2028y\u200bz") == "x\\u202eevil\\u2028y\\u200bz"
    assert escape_controls("Åse Ødegård ok") == "Åse Ødegård ok"
    record = SimpleNamespace(timestamp=0, value=b"\x1b]0;pwned\x07\x1b[31m",
                             headers=[("dlq.reason", b"bad \x1b[2J\r\nfake line")])
    line = format_line("referrals.dlq", record, colour=False)
    assert "\x1b" not in line and "\n" not in line and "\r" not in line
    assert "\\x1b" in line


def test_tail_leaves_raw_intake_people_and_dlqs_out_unless_named() -> None:
    for hidden in ("referrals", "people"):
        assert hidden not in DEFAULT_TOPICS
    assert not any(t.endswith(".dlq") for t in topics_for([], None))
    assert topics_for(["referrals", "people.dlq"], None) == ["referrals", "people.dlq"]
