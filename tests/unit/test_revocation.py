"""A partition taken from this member: work under way on it ends (and is recorded) before the
partition goes on, no new work starts on it, and nothing of it stays in this member's memory."""

from __future__ import annotations

import asyncio

import pytest

from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from services.notifier.ports import MailParts
from shared.clock import ManualClock
from shared.events import ConsentState, encode_event
from shared.state import ChangelogTable, PartitionMoved
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, members_of, ready_table
from tests.unit.test_notifier_batches import request
from tests.unit.test_notifier_consent_property import AT, PEOPLE

TOPICS = Topics()


def _table(drain_seconds: float = 5.0) -> ChangelogTable[str]:
    table: ChangelogTable[str] = ChangelogTable("ledger", {}, FakeProducer(), encode=str.encode,
                                                decode=bytes.decode, drain_seconds=drain_seconds)
    table.ready.set()
    return table


def test_a_revocation_waits_for_the_work_holding_the_partition() -> None:
    table = _table()
    order: list[str] = []

    async def work() -> None:
        async with table.holding(1):
            await asyncio.sleep(0.2)
            await table.put("n-1", "sent", partition=1)
            order.append("recorded")

    async def run() -> None:
        task = asyncio.create_task(work())
        await asyncio.sleep(0.05)
        await table.release({1})
        order.append("released")
        await task

    asyncio.run(run())
    assert order == ["recorded", "released"]


def test_no_work_starts_on_a_revoked_partition_until_it_is_assigned_again() -> None:
    table = _table()

    async def run() -> None:
        await table.release({1, 2})

        async def replay(parts: list[int]) -> tuple[int, dict[str, tuple[int, str | None]]]:
            return 0, {}

        table._replay = replay  # type: ignore[method-assign]
        await table.recover([2])
        table.ready.set()
        with pytest.raises(PartitionMoved):
            async with table.holding(1):
                pass
        async with table.holding(2):
            pass

    asyncio.run(run())


def test_a_write_for_a_revoked_partition_goes_to_kafka_but_not_into_memory() -> None:
    producer = FakeProducer()
    table: ChangelogTable[str] = ChangelogTable("ledger", {}, producer, encode=str.encode,
                                                decode=bytes.decode)

    async def run() -> None:
        await table.release({1})
        await table.put("n-1", "retrying", partition=1)

    asyncio.run(run())
    assert [s.key for s in producer.sent] == ["n-1"]
    assert table.get("n-1") is None


def test_requests_of_a_partition_revoked_while_they_wait_are_not_sent() -> None:
    """Two slots, four requests: the two under way when the partition is revoked are sent and
    recorded, the two still waiting are left to the next owner."""
    producer = FakeProducer()
    ledger = ready_table("ledger", producer, LedgerEntry)
    consents: FakeView[ConsentState] = FakeView()
    started = asyncio.Event()

    class Slow(RecordingSender):
        async def send(self, to: str, subject: str, body: str, notification_id: str,
                       parts: MailParts | None = None) -> str:
            started.set()
            await asyncio.sleep(0.2)
            return await super().send(to, subject, body, notification_id, parts)

    sender = Slow(consents)
    handlers = NotifierHandlers(TOPICS, producer, ledger, FakeView(dict(PEOPLE)), consents,
                                sender, RecordingSms(), ManualClock(AT),
                                NotifierSettings(concurrency=2),
                                members_of("c", psychologist_id="psy"))
    batch = [Record(TOPICS.notifications_requested, encode_event(request(n)), b"c", 0, n)
             for n in range(4)]

    async def run() -> None:
        handling = asyncio.create_task(handlers.on_requests(batch))
        await started.wait()
        await ledger.release({0})
        ledger.ready.set()  # the group assigned this member other partitions
        await handling

    asyncio.run(run())
    sent = sorted(n for n, _ in sender.sent)
    assert sent == ["c:n0", "c:n1"]
    recorded = [s.key for s in producer.sent if s.topic == "ledger"]
    assert sorted(recorded) == sent
