from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    """One long-running task (a timer loop) that a service starts and stops with itself."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, None]],
                 name: str | None = None) -> None:
        self._make = make
        self._name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._make(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
