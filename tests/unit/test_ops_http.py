"""The ops endpoints as HTTP clients see them, without Kafka."""

from __future__ import annotations

import httpx
from faststream.asgi import AsgiFastStream

from shared.ops import OpsServer, ops_routes


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
