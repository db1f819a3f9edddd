import json

import structlog

from shared.logging import configure_logging, redact_text, redact_value


def test_cpr_email_and_phone_are_redacted_in_text() -> None:
    text = "cpr 010203-1234 or 0102031234, mail lars@example.org, tlf +45 20 30 40 50 / 20304050"
    out = redact_text(text)
    for secret in ("010203", "0102031234", "lars@", "20 30 40 50", "20304050"):
        assert secret not in out
    assert out.count("[cpr]") == 2 and "[email]" in out and out.count("[phone]") == 2


def test_dates_and_offsets_are_left_alone() -> None:
    assert redact_text("2026-11-26T08:30:00+01:00 offset=1234") == (
        "2026-11-26T08:30:00+01:00 offset=1234"
    )


def test_nested_values_and_exceptions_are_redacted() -> None:
    value = {"a": ["x lars@example.org", {"b": "010203-1234"}], "e": ValueError("tlf 20304050")}
    out = redact_value(value)
    assert "lars@" not in json.dumps(out) and "010203" not in json.dumps(out)
    assert out["e"] == "ValueError: tlf [phone]"


def test_log_lines_and_tracebacks_are_redacted(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging(json=True)
    log = structlog.get_logger("t")
    try:
        raise RuntimeError("could not mail lars@example.org about 010203-1234")
    except RuntimeError:
        log.exception("send_failed", to="lars@example.org", extra={"phone": "+4520304050"})
    err = capsys.readouterr().err
    assert "send_failed" in err
    assert "lars@" not in err and "010203" not in err and "4520304050" not in err
    configure_logging(json=False)


def test_cpr_numbers_inside_longer_tokens_are_redacted_with_and_without_dash() -> None:
    for token in ("ref0102031234", "id-010203-1234x", "r_3112991234_b", "x010203-1234"):
        assert "[cpr]" in redact_text(token), token
    assert redact_text("offset 1234567890123") == "offset 1234567890123"


def test_faststreams_own_loggers_are_redacted() -> None:
    import io
    import logging

    from faststream.kafka import KafkaBroker

    configure_logging(json=True)
    KafkaBroker("127.0.0.1:1")  # sets up FastStream's loggers and their own handler
    handler = logging.getLogger("faststream").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        for name in ("faststream", "faststream.access.kafka"):
            logger = logging.getLogger(name)
            logger.error("could not deliver to %s, cpr %s", "lars@example.org", "0102031234")
            try:
                raise RuntimeError("boom for anna@example.org")
            except RuntimeError:
                logger.exception("failed")
    finally:
        handler.setStream(previous)
    written = out.getvalue()
    assert "could not deliver to [email], cpr [cpr]" in written
    assert "RuntimeError: boom for [email]" in written
    for secret in ("lars@", "anna@", "0102031234"):
        assert secret not in written


def test_cpr_numbers_written_with_other_dashes_dots_slashes_or_spaces_are_redacted() -> None:
    for written in ("010203\u20131234", "010203\u20111234", "01.02.03-1234", "010203/1234",
                    "010203 - 1234", "010203 1234", "010203\u20141234"):
        assert redact_text(f"Anna {written} x") == "Anna [cpr] x", written


def test_ids_that_begin_with_eight_digits_are_left_alone() -> None:
    # Event ids (UUIDs), consumer ids and hex course ids are what an operator greps for.
    line = ("event_id=12345678-bb76-5993-9cc5-a9d4fdb168fc member=lederkontakt-87654321-33e0 "
            "course=c-20304050abcd tlf 20304050, or 20 30 40 50.")
    out = redact_text(line)
    assert "12345678-bb76-5993-9cc5-a9d4fdb168fc" in out and "lederkontakt-87654321-33e0" in out
    assert "c-20304050abcd" in out and out.count("[phone]") == 2
