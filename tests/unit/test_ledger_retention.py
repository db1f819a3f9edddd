"""The notifier's ledger keeps an entry only while a repeat of its request could still come:
a settled entry goes the retention's `ended_course_days` after its course closed (a digest's,
after it settled); an entry still waiting to be sent stays."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from services.notifier.domain.ledger import LedgerEntry
from services.notifier.retention import LedgerRetention
from shared.clock import ManualClock
from shared.state import ChangelogTable
from tests.fakes import FakeProducer, FakeView, ready_table
from tests.unit.test_notifier_parked import LATE, MORNING, REQUEST, notifier, record

KEEP = timedelta(days=90)


def _ledger(producer: FakeProducer) -> ChangelogTable[LedgerEntry]:
    return ready_table("ledger", producer, LedgerEntry)


def test_a_settled_entry_names_its_course_and_a_waiting_one_is_not_dated() -> None:
    async def run() -> tuple[LedgerEntry | None, LedgerEntry | None]:
        handlers, _ = notifier(FakeProducer(), FakeView(), ManualClock(LATE))
        await handlers.on_requests([record()])  # quiet hours: the SMS waits
        parked = handlers.ledger.get(REQUEST.notification_id)
        handlers.clock.at = MORNING  # type: ignore[attr-defined]
        await handlers.tick()
        return parked, handlers.ledger.get(REQUEST.notification_id)

    parked, sent = asyncio.run(run())
    assert parked is not None and (parked.state, parked.course_id, parked.closed_at) == (
        "deferred", "c", None)
    assert sent is not None and (sent.state, sent.course_id, sent.closed_at) == ("sent", "c", None)


def test_settled_entries_of_a_closed_course_are_dated_then_tombstoned_after_the_setting() -> None:
    producer = FakeProducer()
    ledger = _ledger(producer)
    clock = ManualClock(MORNING)
    ledger.remember([
        ("c:a", LedgerEntry(notification_id="c:a", state="sent", course_id="c"), 1),
        ("c:b", LedgerEntry(notification_id="c:b", state="retrying", course_id="c",
                            due_at=MORNING, request=REQUEST), 1),
        ("d:a", LedgerEntry(notification_id="d:a", state="sent", course_id="d"), 2),
        ("digest:psy:2026-11-27", LedgerEntry(notification_id="digest:psy:2026-11-27",
                                              state="sent", closed_at=MORNING), 0)])
    closed: FakeView[datetime] = FakeView({"c": MORNING})
    retention = LedgerRetention(ledger, closed, clock, KEEP)
    assert asyncio.run(retention.round()) == 0
    dated = ledger.get("c:a")
    assert dated is not None and dated.closed_at == MORNING
    waiting = ledger.get("c:b")
    assert waiting is not None and waiting.closed_at is None
    # The consent record may go first: the date stays on the entry.
    closed.values.clear()
    clock.at = MORNING + KEEP + timedelta(minutes=1)
    assert asyncio.run(retention.round()) == 2
    assert ledger.get("c:a") is None and ledger.get("digest:psy:2026-11-27") is None
    assert ledger.get("c:b") is not None and ledger.get("d:a") is not None
    assert [r.value for r in producer.on("ledger")][-2:] == [None, None]


def test_nothing_goes_while_the_ledger_is_being_rebuilt() -> None:
    ledger = _ledger(FakeProducer())
    ledger.remember([("c:a", LedgerEntry(notification_id="c:a", state="sent", course_id="c",
                                         closed_at=MORNING), 0)])
    ledger.ready.clear()
    retention = LedgerRetention(ledger, FakeView(), ManualClock(MORNING + KEEP * 2), KEEP)
    assert asyncio.run(retention.round()) == 0 and ledger.get("c:a") is not None


def test_a_settled_digest_counts_its_retention_from_the_moment_it_settled() -> None:
    from services.notifier.domain.ledger import for_retention

    digest = REQUEST.model_copy(update={"course_id": None, "kind": "daily_digest",
                                        "notification_id": "digest:psy:2026-11-27"})
    sent = LedgerEntry(notification_id="digest:psy:2026-11-27", state="sent")
    waiting = LedgerEntry(notification_id="digest:psy:2026-11-27", state="deferred")
    assert for_retention(sent, digest, MORNING).closed_at == MORNING
    assert for_retention(waiting, digest, MORNING).closed_at is None
