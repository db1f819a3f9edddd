"""Traces across the services: one span per consumed event, continued from the trace context in
the record's headers, with a child span per stage (decode, rules, state write, publish, consent
check, send); every record a service produces carries the context of the event it came from.

Nothing is recorded unless a tracer provider is installed: `configure_tracing` installs one that
exports over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads the standard
OTEL_* variables), and tests install their own. Spans carry ids and kinds only (topic, partition,
offset, key, event type); whatever text reaches an export (status descriptions, exception
events) goes through the log redaction first.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.logging import redact_text

_PROPAGATOR = TraceContextTextMapPropagator()
_HEADERS = ("traceparent", "tracestate")

# Off until a provider is installed: then every helper here returns at its first line.
_enabled = False
# The event being handled (its span), and the batch it came in (spans by record and by key).
_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("event_span", default=None)
_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("event_batch", default=None)


def configure_tracing(service: str) -> None:
    """Export this process's spans over OTLP/HTTP if OTEL_EXPORTER_OTLP_ENDPOINT is set; else
    record nothing at all."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"lederkontakt-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(RedactingExporter(OTLPSpanExporter())))
    use_tracer_provider(provider)


def use_tracer_provider(provider: Any) -> None:
    """Install a tracer provider (once per process, as OpenTelemetry allows) and start tracing."""
    global _enabled
    trace.set_tracer_provider(provider)
    _enabled = True


def stop_tracing() -> None:
    """Record nothing from now on (the provider stays installed, as OpenTelemetry requires)."""
    global _enabled
    _enabled = False


def tracing_enabled() -> bool:
    return _enabled


def _tracer(service: str) -> trace.Tracer:
    return trace.get_tracer(f"lederkontakt.{service}")


class _Batch:
    """The spans of one consumed batch: one per record, started when the handler takes the batch
    up and ended when it returns (its offsets are committed then)."""

    def __init__(self, service: str, records: Sequence[Any]) -> None:
        self.service = service
        self.tracer = _tracer(service)
        now = time.time()
        start_ns = time.time_ns()
        # The batch span FastStream's telemetry middleware opened, if any.
        outer = trace.get_current_span().get_span_context()
        links = [Link(outer)] if outer.is_valid else None
        self.spans: dict[int, Span] = {}
        self.by_key: dict[bytes, Span] = {}
        for record in records:
            parent = _PROPAGATOR.extract(_carrier(record.headers))
            attributes: dict[str, Any] = {
                "lederkontakt.service": service,
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.destination.partition": record.partition,
                "messaging.kafka.message.offset": record.offset,
                # From the producer's timestamp to now: how long the record waited for us.
                "lederkontakt.queued_s": max(0.0, now - record.timestamp / 1000),
            }
            kind = _header(record.headers, "type")
            if kind:
                attributes["lederkontakt.event.type"] = kind
            if record.key is not None:
                attributes["messaging.kafka.message.key"] = record.key.decode(errors="replace")
            span = self.tracer.start_span(
                f"{record.topic} process", context=parent, kind=SpanKind.CONSUMER,
                attributes=attributes, links=links, start_time=start_ns, record_exception=False)
            self.spans[id(record)] = span
            if record.key is not None:
                self.by_key[record.key] = span

    def end(self, error: BaseException | None) -> None:
        for span in self.spans.values():
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, _describe(error)))
            span.end()


@contextmanager
def consuming(service: str, records: Sequence[Any]) -> Iterator[None]:
    """Around a batch handler: a span per record, ended when the handler returns."""
    if not _enabled:
        yield
        return
    batch = _Batch(service, records)
    token = _batch.set(batch)
    try:
        yield
    except BaseException as exc:
        batch.end(exc)
        raise
    else:
        batch.end(None)
    finally:
        _batch.reset(token)


def handling(record: Any) -> None:
    """The handler works on this record now: stages and produced records belong to its trace
    (until the next call; in a task of its own, only within that task)."""
    if not _enabled:
        return
    batch = _batch.get()
    _current.set(batch.spans.get(id(record)) if batch is not None else None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """A stage of the event being handled, as a child of its span."""
    if not _enabled:
        yield
        return
    parent = _current.get()
    if parent is None:
        with batch_stage(name):
            yield
        return
    batch = _batch.get()
    tracer = batch.tracer if batch is not None else trace.get_tracer("lederkontakt")
    service = batch.service if batch is not None else ""
    span = tracer.start_span(name, context=trace.set_span_in_context(parent),
                             attributes={"lederkontakt.service": service, "lederkontakt.stage": True},
                             record_exception=False)
    try:
        yield
    except BaseException as exc:
        span.set_status(Status(StatusCode.ERROR, _describe(exc)))
        raise
    finally:
        span.end()


@contextmanager
def batch_stage(name: str) -> Iterator[None]:
    """A stage done once for a whole batch (one produce request, one state write): it appears,
    with the same times, under the span of every event of the batch. Records produced within it
    take their trace from the batch's record with the same key."""
    if not _enabled:
        yield
        return
    batch = _batch.get()
    token = _current.set(None)
    start = time.time_ns()
    error: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        error = exc
        raise
    finally:
        _current.reset(token)
        if batch is not None:
            end = time.time_ns()
            for parent in batch.spans.values():
                span = batch.tracer.start_span(
                    name, context=trace.set_span_in_context(parent), start_time=start,
                    attributes={"lederkontakt.service": batch.service, "lederkontakt.stage": True},
                    record_exception=False)
                if error is not None:
                    span.set_status(Status(StatusCode.ERROR, _describe(error)))
                span.end(end_time=end)


@contextmanager
def root(service: str, name: str) -> Iterator[None]:
    """Work that no event started (a timer round): a trace of its own."""
    if not _enabled:
        yield
        return
    span = _tracer(service).start_span(name, context=Context(), record_exception=False,
                                       attributes={"lederkontakt.service": service})
    token = _current.set(span)
    try:
        yield
    finally:
        _current.reset(token)
        span.end()


def trace_headers(key: bytes | None = None) -> list[tuple[str, bytes]]:
    """Headers that carry the current event's trace to whoever consumes a record produced now;
    outside an event, the trace of the batch's record with the same key, if any."""
    if not _enabled:
        return []
    span = _current.get()
    if span is None and key is not None:
        batch = _batch.get()
        span = batch.by_key.get(key) if batch is not None else None
    if span is None:
        return []
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return [(k, v.encode()) for k, v in carrier.items()]


def _carrier(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in headers or () if k in _HEADERS}


def _header(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    for k, v in headers or ():
        if k == name:
            return v.decode(errors="replace")
    return None


def _describe(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:300]


class RedactingExporter(SpanExporter):
    """Hands spans on with the log redaction applied to every text in them (attribute values,
    event attributes such as exception messages and stack traces, status descriptions): a
    library's span may hold whatever an exception said."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_redacted(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _redacted_attributes(attributes: Any) -> dict[str, Any]:
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in (attributes or {}).items()}


def _redacted(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, redact_text(status.description))
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=_redacted_attributes(span.attributes),
        events=[Event(e.name, _redacted_attributes(e.attributes), e.timestamp)
                for e in span.events],
        links=span.links, kind=span.kind, status=status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope)
