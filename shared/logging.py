"""structlog set-up: JSON for machines, readable lines in a terminal, personal data redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# A CPR number (DDMMYY-NNNN, the dash optional), also inside a longer token ("ref0102031234"):
# only digits around it make it something else. The date must be one, so offsets stay readable.
# Dots in the date and any dash, slash, dot or space before the last four are the same number.
CPR = re.compile(r"(?<!\d)(?:0[1-9]|[12]\d|3[01])\.?(?:0[1-9]|1[0-2])\.?\d{2}"
                 r"\s*[-\u2010-\u2015\u2212/.]?\s*\d{4}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w-])(?:\+|00)\d[\d\s-]{6,16}\d\b|(?<![\w-])\d{2}\s?\d{2}\s?\d{2}\s?\d{2}(?![\w-])")


def redact_text(text: str) -> str:
    """CPR numbers, e-mail addresses and phone numbers never reach a log line."""
    text = CPR.sub("[cpr]", text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub("[phone]", text)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return {key: redact_value(value) for key, value in event_dict.items()}


def configure_logging(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """JSON when not attached to a terminal (or when asked), colourful key=value otherwise."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Looked up per logger, so a replaced sys.stderr (as under pytest) is honoured.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    install_record_redaction()


def install_record_redaction() -> None:
    """Library loggers (aiokafka, FastStream) may print addresses from their own exceptions,
    and FastStream's loggers have handlers of their own that never reach the root's. So every
    stdlib log record is redacted where it is made: one path for every logger, whatever its
    handlers, including loggers configured after this call."""
    base = logging.getLogRecordFactory()
    if getattr(base, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redact_record(record)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: logging reports that itself
        return
    record.msg = redact_text(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
