"""One referral followed through every service to the SMTP server as one trace, on the real
broker, with the three services in this process sharing the SDK's in-memory exporter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devtools.smtp_sink import MailSink
from services.contact_scheduler.app import SchedulerService
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from services.referral.app import ReferralService
from shared import telemetry
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.kafka import EventProducer
from shared.logging import EMAIL
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import wait_for
from tests.samples import referral

pytestmark = pytest.mark.integration
# After 08:30 on the course's first day: the start call's first reminder fires at once.
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=COPENHAGEN)


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.RedactingExporter(spans)))
    telemetry.use_tracer_provider(provider)
    yield spans
    # OpenTelemetry allows one provider per process: later tests run with this one, recording
    # nothing once it is shut down.
    telemetry.stop_tracing()
    provider.shutdown()


@pytest.fixture
async def services(kafka: KafkaSettings, notifier_settings: NotifierSettings,
                   exporter: InMemorySpanExporter) -> AsyncIterator[None]:
    clock = ManualClock(NOON)
    running = [ReferralService(kafka, clock=clock), SchedulerService(kafka, clock),
               NotifierService(kafka, notifier_settings, clock)]
    for service in running:
        await service.start()
    yield
    for service in reversed(running):
        await service.stop()


def _chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span and its ancestors, root first."""
    chain = [span]
    while chain[0].parent is not None and chain[0].parent.span_id in by_id:
        chain.insert(0, by_id[chain[0].parent.span_id])
    return chain


def _service(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("lederkontakt.service", ""))


async def test_one_referral_is_one_trace_through_every_service_to_the_smtp_server(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, smtp: tuple[MailSink, int],
    services: None, exporter: InMemorySpanExporter,
) -> None:
    sink = smtp[0]
    exporter.clear()
    await producer.publish(topics.referrals, referral("r-traced"))
    # The receipt to the leader, and the start call reminder the scheduler made to the
    # psychologist; their spans end once the notifier's batch is done.
    await wait_for(lambda: {"lars@example.org", "pia@tidlig.dk"} <= {m.to for m in sink.mails})

    def reminder_send() -> ReadableSpan | None:
        spans = exporter.get_finished_spans()
        by_id = {s.context.span_id: s for s in spans}
        for span in spans:
            if span.name == "smtp send" and any(
                    _service(s) == "contact-scheduler" for s in _chain(span, by_id)):
                return span
        return None

    await wait_for(lambda: reminder_send() is not None)
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    send = reminder_send()
    assert send is not None
    chain = _chain(send, by_id)
    consumed = [(_service(s), s.name.removeprefix(topics.prefix)) for s in chain
                if s.name.endswith(" process")]
    assert consumed == [("referral", "referrals process"),
                        ("contact-scheduler", "courses process"),
                        ("notifier", "notifications.requested process")]
    assert chain[-1].name == "smtp send" and _service(chain[-1]) == "notifier"
    assert len({s.context.trace_id for s in chain}) == 1
    starts = [s.start_time or 0 for s in chain]
    assert starts == sorted(starts)

    trace_id = send.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    stages = {(_service(s), s.name) for s in in_trace}
    assert {("referral", "decode"), ("referral", "rules"), ("referral", "publish"),
            ("referral", "state write"), ("contact-scheduler", "rules"),
            ("contact-scheduler", "publish"), ("contact-scheduler", "state write"),
            ("notifier", "consent check"), ("notifier", "smtp send"),
            ("notifier", "state write"), ("notifier", "publish")} <= stages
    # The receipt went straight from the referral service to the notifier: same trace.
    receipt_sends = [s for s in in_trace if s.name == "smtp send"]
    assert len(receipt_sends) >= 2
    # Ids and kinds only: no e-mail address, no name anywhere in what was exported.
    for span in spans:
        texts = [str(v) for v in (span.attributes or {}).values()]
        texts += [str(v) for e in span.events for v in (e.attributes or {}).values()]
        assert not any(EMAIL.search(t) or "Lars" in t or "Emma" in t for t in texts), span


def test_exported_spans_have_personal_data_redacted() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.RedactingExporter(spans)))
    with provider.get_tracer("t").start_as_current_span("send") as span:
        span.set_attribute("error", "550 no such user lars@example.org")
        span.record_exception(ValueError("bad phone +45 21 31 41 51 for lars@example.org"))
    (exported,) = spans.get_finished_spans()
    assert exported.attributes == {"error": "550 no such user [email]"}
    message = str((exported.events[0].attributes or {})["exception.message"])
    assert "lars" not in message and "[email]" in message and "[phone]" in message


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"])
def test_spans_are_exported_only_when_an_otlp_endpoint_is_set(endpoint: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
    if endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    code = ("from opentelemetry import trace; from shared import telemetry; "
            "telemetry.configure_tracing('referral'); "
            "print(telemetry.tracing_enabled(), type(trace.get_tracer_provider()).__name__)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == (["True", "TracerProvider"] if endpoint else ["False", "ProxyTracerProvider"])
