"""A local HTTP server that speaks GatewayAPI's REST shape (POST /rest/mtsms)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SmsGatewayDouble:
    token: str = "test-token"
    messages: list[dict[str, Any]] = field(default_factory=list)
    # (status, headers) to answer instead of accepting, one per request, for failure tests.
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0, host: str = "127.0.0.1") -> SmsGatewayDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any],
                        headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path != "/rest/mtsms":
                    return self._answer(404, {"code": "0x0404", "message": "not found"})
                if self.headers.get("Authorization") != f"Token {double.token}":
                    return self._answer(401, {"code": "0x0213", "message": "unauthorized"})
                with double._lock:
                    if double.failures:
                        status, headers = double.failures.pop(0)
                        return self._answer(status, {"code": str(status), "message": "refused"},
                                            headers)
                try:
                    body = json.loads(raw)
                    assert isinstance(body["message"], str) and body["recipients"]
                except (ValueError, KeyError, AssertionError, TypeError):
                    return self._answer(422, {"code": "0x0422", "message": "invalid body"})
                with double._lock:
                    double.messages.append(body)
                    ident = len(double.messages)
                return self._answer(200, {"ids": [ident], "usage": {"total_cost": 0.0}})

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def main() -> None:
    """Run the double on its own (docker-compose, local runs); each SMS is printed as JSON."""
    import argparse
    import os
    import time

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMS_GATEWAY_PORT", "8026")))
    parser.add_argument("--host", default=os.environ.get("SMS_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--token", default=os.environ.get("SMS_GATEWAY_TOKEN", "test-token"))
    args = parser.parse_args()
    double = SmsGatewayDouble(token=args.token)
    double.start(args.port, args.host)
    print(f"SMS gateway double on {double.url}", flush=True)
    seen = 0
    while True:
        time.sleep(0.5)
        while seen < len(double.messages):
            print(json.dumps(double.messages[seen], ensure_ascii=False), flush=True)
            seen += 1


if __name__ == "__main__":
    main()
