"""Two guards in front of every route: a body limit (413) and a CSRF check on every POST (403).

They are one ASGI middleware because both need the body before the route sees it: the body is
read once, at most `max_body_bytes` of it, and handed on unchanged."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Reject = Callable[[Scope, Receive, Send, int], Awaitable[None]]

CSRF_FIELD = "csrf_token"


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use; every form carries it in a hidden field."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(session: dict[str, Any], body: bytes) -> bool:
    expected = session.get("csrf")
    try:
        sent = parse_qs(body.decode(), max_num_fields=200).get(CSRF_FIELD, [""])[0]
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(expected, str) and bool(sent) and hmac.compare_digest(expected, sent)


class GuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, reject: Reject) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self.reject(scope, receive, send, 413)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self.reject(scope, receive, send, 413)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if scope["method"] == "POST" and not csrf_ok(scope.get("session", {}), body):
            await self.reject(scope, receive, send, 403)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
