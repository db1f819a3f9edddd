"""The ops endpoints as HTTP clients see them, without Kafka."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from faststream.asgi import AsgiFastStream

from shared.ops import HeadDeadlineProtocol, OpsServer, bearer_guard, ops_routes, token_guard


async def test_healthz_is_503_with_its_report_while_the_service_is_not_ready() -> None:
    ready = {"ok": False, "partitions": []}
    app = AsgiFastStream(asgi_routes=ops_routes("svc", lambda: dict(ready),
                                                pages={"/": lambda: ("text/html", b"<p>x</p>")}))
    server = OpsServer("svc", app, port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            before = await client.get("/healthz")
            ready["ok"] = True
            after = await client.get("/healthz")
            page = await client.get("/")
            missing = await client.get("/nothing")
            posted = await client.post("/healthz")
    finally:
        await server.stop()
    assert before.status_code == 503 and before.json() == {"service": "svc", "ok": False,
                                                           "partitions": []}
    assert after.status_code == 200 and after.json()["ok"] is True
    assert page.headers["content-type"] == "text/html" and page.text == "<p>x</p>"
    assert missing.status_code == 404 and posted.status_code == 405


async def test_the_ops_server_listens_on_loopback_only_by_default() -> None:
    server = OpsServer("svc", AsgiFastStream(asgi_routes=ops_routes("svc", dict)), port=0)
    await server.start()
    try:
        assert server.host == "127.0.0.1"
    finally:
        await server.stop()


async def test_a_guard_wraps_every_route() -> None:
    seen: list[str] = []

    def guard(app):  # type: ignore[no-untyped-def]
        async def guarded(scope, receive, send):  # type: ignore[no-untyped-def]
            seen.append(scope["path"])
            await app(scope, receive, send)
        return guarded

    routes = ops_routes("svc", lambda: {"ok": True}, guard=guard)
    server = OpsServer("svc", AsgiFastStream(asgi_routes=routes), port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await server.stop()
    assert seen == ["/healthz", "/metrics"]


async def test_with_a_token_the_ops_endpoints_answer_only_a_bearer_of_it() -> None:
    routes = ops_routes("svc", lambda: {"ok": True}, pages={"/": lambda: ("text/html", b"x")},
                        guard=bearer_guard("s3cret"))
    server = OpsServer("svc", AsgiFastStream(asgi_routes=routes), port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            bare = [(await client.get(p)).status_code for p in ("/healthz", "/metrics", "/")]
            wrong = await client.get("/healthz", headers={"Authorization": "Bearer s3cre"})
            right = [(await client.get(p, headers={"Authorization": "Bearer s3cret"})).status_code
                     for p in ("/healthz", "/metrics", "/")]
    finally:
        await server.stop()
    assert bare == [401, 401, 401] and wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert right == [200, 200, 200]


def test_the_token_guard_is_on_only_when_a_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDERKONTAKT_OPS_TOKEN", raising=False)
    assert token_guard() is None
    monkeypatch.setenv("LEDERKONTAKT_OPS_TOKEN", "s3cret")
    assert token_guard() is not None


async def test_a_request_head_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(HeadDeadlineProtocol, "head_timeout_seconds", 0.5)
    server = OpsServer("svc", AsgiFastStream(asgi_routes=ops_routes("svc", dict)), port=0)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        started = time.monotonic()
        closed_after = None
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            # Every byte resets uvicorn's keep-alive timeout; only the head deadline ends this.
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                if await asyncio.wait_for(reader.read(1), 0.1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed_after = time.monotonic() - started
                break
        writer.close()
        # A prompt request on a new connection is answered as before.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/healthz")).status_code == 503
    finally:
        await server.stop()
    assert closed_after is not None and closed_after < 5
