"""A minimal OTLP/HTTP trace receiver for the benchmarks: the services export their spans to it
(protobuf over HTTP, as to any collector), and it keeps what the hop figures need."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    start_s: float
    seconds: float
    attributes: dict[str, Any]


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class OtlpSink:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                received = []
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            attrs = {a.key: _value(a.value) for a in span.attributes}
                            received.append(ReceivedSpan(
                                str(attrs.get("lederkontakt.service")
                                    or resource.get("service.name", "?")),
                                span.name, span.kind, span.start_time_unix_nano / 1e9,
                                (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
                                attrs))
                with sink._lock:
                    sink.spans.extend(received)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> list[ReceivedSpan]:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            return list(self.spans)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 4) if ordered else -1.0


def hops(spans: list[ReceivedSpan], since: float, prefix: str) -> dict[str, dict[str, float]]:
    """Per hop (service, input topic): how long records waited between being produced and their
    handler taking them up, and how long the handler held them (until their batch was done);
    per service stage (decode, rules, consent check, SMTP send...): its own time."""
    groups: dict[str, tuple[list[float], list[float]]] = {}
    stages: dict[str, list[float]] = {}
    for span in spans:
        if span.start_s < since:
            continue
        queued = span.attributes.get("lederkontakt.queued_s")
        if queued is not None:
            topic = str(span.attributes.get("messaging.destination.name", "?")).removeprefix(prefix)
            waited, held = groups.setdefault(f"{topic} -> {span.service}", ([], []))
            waited.append(float(queued))
            held.append(span.seconds)
        elif span.attributes.get("lederkontakt.stage"):
            stages.setdefault(f"{span.service}: {span.name}", []).append(span.seconds)
    out: dict[str, dict[str, float]] = {}
    for hop, (waited, held) in sorted(groups.items()):
        out[hop] = {"records": len(waited), "waited_p50_s": _pct(waited, 0.5),
                    "waited_p99_s": _pct(waited, 0.99), "handler_p50_s": _pct(held, 0.5),
                    "handler_p99_s": _pct(held, 0.99)}
    for stage, times in sorted(stages.items()):
        out[stage] = {"spans": len(times), "p50_s": _pct(times, 0.5), "p99_s": _pct(times, 0.99)}
    return out


def print_hops(table: dict[str, dict[str, float]]) -> None:
    import sys

    for hop, f in table.items():
        if "waited_p50_s" in f:
            print(f"    {hop:45} {int(f['records']):>6} records  waited p50 {f['waited_p50_s']:.4f}"
                  f" p99 {f['waited_p99_s']:.4f} s  handler p50 {f['handler_p50_s']:.4f}"
                  f" p99 {f['handler_p99_s']:.4f} s", file=sys.stderr)
        else:
            print(f"    {hop:45} {int(f['spans']):>6} spans    p50 {f['p50_s']:.4f}"
                  f" p99 {f['p99_s']:.4f} s", file=sys.stderr)
