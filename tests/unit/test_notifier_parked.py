"""An SMS parked for the quiet hours is sent once they end, whatever happened meanwhile: Kafka
not answering when its moment came, or the moment coming while its request was still being
parked (a slow broker, a rebalance)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import ConsentState, ConsentStatement, Event, NotificationRequested, Person
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import (
    FakeProducer,
    FakeView,
    Record,
    RecordingSender,
    RecordingSms,
    members_of,
)

TOPICS = Topics()
LATE = datetime(2026, 11, 26, 23, 0, tzinfo=COPENHAGEN)
MORNING = datetime(2026, 11, 27, 8, 0, 1, tzinfo=COPENHAGEN)
PEOPLE = {
    "lead": Person(person_id="lead", name="Lone", phone="+4521314151", preferred_channel="sms"),
    "psy": Person(person_id="psy", name="Pia", email="pia@tidlig.dk"),
}
REQUEST = NotificationRequested(
    occurred_at=LATE, course_id="c", notification_id="c:referral_receipt", kind="referral_receipt",
    recipient_id="lead", recipient_role="leader", psychologist_id="psy", requires_consent="none")


@dataclass
class FlakyView(FakeView[ConsentState]):
    """A view whose next `failures` catch-ups time out, as when the broker does not answer."""

    failures: int = 0

    async def catch_up(self) -> None:
        if self.failures:
            self.failures -= 1
            raise TimeoutError


@dataclass
class HeldProducer(FakeProducer):
    """Holds every status publish until released, as a broker electing a new leader does."""

    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, topic: str, event: Event, partition: int | None = None) -> None:
        self.held.set()
        await self.release.wait()
        await super().publish(topic, event, partition)


def notifier(producer: FakeProducer, consents: FakeView[ConsentState],
             clock: ManualClock) -> tuple[NotifierHandlers, RecordingSms]:
    ledger: ChangelogTable[LedgerEntry] = ChangelogTable(
        "ledger", {}, producer, encode=lambda e: e.model_dump_json().encode(),
        decode=LedgerEntry.model_validate_json)
    ledger.ready.set()
    sms = RecordingSms()
    consents.values["c"] = ConsentState(leader_contact=ConsentStatement(agreed=True, as_of=LATE))
    handlers = NotifierHandlers(TOPICS, producer, ledger, FakeView(dict(PEOPLE)), consents,
                                RecordingSender(consents), sms, clock, NotifierSettings(),
                                members_of("c", leader_id="lead", psychologist_id="psy"))
    return handlers, sms


def record() -> Record:
    return Record(TOPICS.notifications_requested, REQUEST.model_dump_json().encode(), b"c", 3, 0)


async def _parked_then_kafka_fails_once() -> list[str]:
    clock = ManualClock(LATE)
    consents = FlakyView()
    handlers, sms = notifier(FakeProducer(), consents, clock)
    await handlers.on_requests([record()])
    clock.at = MORNING
    consents.failures = 1
    with contextlib.suppress(TimeoutError):  # the timer loop logs it and ticks again
        await handlers.tick()
    await handlers.tick()
    return [reference for _, _, reference in sms.sent]


def test_a_parked_sms_whose_first_try_finds_kafka_unanswering_is_sent_at_a_later_tick() -> None:
    assert asyncio.run(_parked_then_kafka_fails_once()) == ["c:referral_receipt"]


async def _due_while_still_being_parked() -> list[str]:
    clock = ManualClock(LATE)
    producer = HeldProducer()
    handlers, sms = notifier(producer, FakeView(), clock)
    handling = asyncio.create_task(handlers.on_requests([record()]))
    await producer.held.wait()  # the ledger says "deferred"; its status is not out yet
    clock.at = MORNING
    await handlers.tick()
    producer.release.set()
    await handling
    await handlers.tick()
    return [reference for _, _, reference in sms.sent]


def test_a_parked_sms_that_falls_due_while_its_request_is_still_being_parked_is_sent() -> None:
    assert asyncio.run(_due_while_still_being_parked()) == ["c:referral_receipt"]


async def _taken_over_in_a_rebalance() -> list[str]:
    clock = ManualClock(MORNING)
    handlers, sms = notifier(FakeProducer(), FakeView(), clock)
    await handlers.tick()
    # What recovering another member's changelog partition 3 leaves in the table.
    handlers.ledger.remember([(REQUEST.notification_id, LedgerEntry(
        notification_id=REQUEST.notification_id, state="deferred", channel="sms",
        reason="quiet_hours", due_at=MORNING.replace(second=0), request=REQUEST), 3)])
    handlers.ledger.generation += 1
    await handlers.tick()
    return [reference for _, _, reference in sms.sent]


def test_a_parked_sms_of_a_partition_taken_over_in_a_rebalance_is_sent() -> None:
    assert asyncio.run(_taken_over_in_a_rebalance()) == ["c:referral_receipt"]
