"""A value written while its partition is being replayed (by a handler that was already running
when the rebalance came) is not overwritten by the older value the replay read."""

from __future__ import annotations

import asyncio

from shared.state import ChangelogTable
from tests.fakes import FakeProducer


def test_a_write_during_the_replay_of_its_partition_outlives_the_replay() -> None:
    table: ChangelogTable[str] = ChangelogTable("ledger", {}, FakeProducer(), encode=str.encode,
                                                decode=bytes.decode)

    async def replay(parts: list[int]) -> tuple[int, dict[str, tuple[int, str | None]]]:
        # While the changelog is read, a running handler records a send it just made.
        await table.put("n-1", "sent", partition=2)
        return 2, {"n-1": (2, "deferred"), "n-2": (2, "sent")}

    table._replay = replay  # type: ignore[method-assign]
    asyncio.run(table.recover([2]))
    assert table.get("n-1") == "sent" and table.get("n-2") == "sent"
    assert table.owned == {2}
    # Once the replay is over, writes are ordinary again.
    asyncio.run(table.put("n-2", "failed", partition=2))
    assert table.get("n-2") == "failed"
