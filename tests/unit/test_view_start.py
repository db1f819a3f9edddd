"""A view that cannot catch up at start (a slow or unreachable broker) keeps trying."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared import views
from shared.views import GlobalView


class _Client:
    def __init__(self, *_: Any, **__: Any) -> None: ...

    def assignment(self) -> set[Any]:
        return set()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, **_: Any) -> dict[Any, list[Any]]:
        await asyncio.sleep(3600)
        return {}


async def _reader(*_: Any, **__: Any) -> _Client:
    return _Client()


def test_a_view_whose_first_catch_ups_time_out_starts_once_the_broker_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "open_reader", _reader)
    monkeypatch.setattr(views, "AIOKafkaConsumer", _Client)
    view: GlobalView[bytes] = GlobalView("people", {}, bytes)
    tries: list[int] = []

    async def catch_up(timeout: float = 10.0) -> None:
        tries.append(1)
        if len(tries) < 3:
            raise TimeoutError

    monkeypatch.setattr(view, "catch_up", catch_up)

    async def run() -> None:
        await asyncio.wait_for(view.start(), 5)
        await view.stop()

    asyncio.run(run())
    assert len(tries) == 3
