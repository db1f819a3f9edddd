"""Toxiproxy for network fault tests: the server built from source with `go install` (cached in
a folder the repository ignores), started on 127.0.0.1, and the few calls of its HTTP API the
fault runs need (proxies; latency, timeout, reset_peer and bandwidth toxics)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
TOXIPROXY_VERSION = "v2.12.0"
REPO = Path(__file__).resolve().parent.parent


class ToxiproxyError(Exception):
    """A failure the operator can act on; printed as one line."""


def server_binary(cache: Path | None = None) -> Path:
    """The toxiproxy server, built once with the Go toolchain from the Go module proxy."""
    folder = cache or Path(os.environ.get("LEDERKONTAKT_TOXIPROXY_HOME", REPO / ".cache" / "toxiproxy"))
    binary = folder / "bin" / "server"
    if binary.exists():
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ToxiproxyError("'go' not found on PATH; install Go 1.22 or newer")
    done = subprocess.run([go, "install", f"{TOXIPROXY_MODULE}@{TOXIPROXY_VERSION}"],
                          env={**os.environ, "GOBIN": str(binary.parent)}, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0 or not binary.exists():
        raise ToxiproxyError(f"go install {TOXIPROXY_MODULE} failed: {done.stderr.strip()[-300:]}")
    return binary


@dataclass
class Toxiproxy:
    """One toxiproxy server process and a client for its API."""

    port: int
    host: str = "127.0.0.1"
    log_file: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Toxiproxy:
        if self._answers():
            raise ToxiproxyError(f"something already answers on {self.url}; stop it first")
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self._proc = subprocess.Popen([str(server_binary()), "-host", self.host,
                                       "-port", str(self.port)],
                                      stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return self
            if self._proc.poll() is not None:
                raise ToxiproxyError(f"toxiproxy exited at start (port {self.port} taken?)")
            time.sleep(0.2)
        raise ToxiproxyError(f"toxiproxy did not answer on {self.url} within {timeout:.0f}s")

    def _answers(self) -> bool:
        try:
            return self._client.get(f"{self.url}/version").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._client.request(method, f"{self.url}{path}", json=body)
        if response.status_code >= 300:
            raise ToxiproxyError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    def proxy(self, name: str, listen_port: int, upstream: str) -> str:
        """A proxy from 127.0.0.1:listen_port to upstream; returns the listen address."""
        self._call("POST", "/proxies", {"name": name, "listen": f"{self.host}:{listen_port}",
                                        "upstream": upstream, "enabled": True})
        return f"{self.host}:{listen_port}"

    def add_toxic(self, proxy: str, kind: str, stream: str = "downstream",
                  **attributes: int) -> str:
        """kind: latency (latency, jitter ms), timeout (timeout ms; 0 holds data until removed),
        reset_peer (timeout ms), bandwidth (rate KB/s)."""
        name = f"{kind}_{stream}"
        self._call("POST", f"/proxies/{proxy}/toxics",
                   {"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
                    "attributes": attributes})
        return name

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def heal(self) -> None:
        """Remove every toxic and re-enable every proxy."""
        self._call("POST", "/reset")
