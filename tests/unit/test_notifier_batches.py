"""A batch of requests is worked on concurrently; a repeat within the batch sends nothing more."""

from __future__ import annotations

import asyncio

from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from services.notifier.ports import MailParts
from shared.clock import ManualClock
from shared.events import ConsentState, NotificationRequested, decode_event, encode_event
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, members_of, ready_table
from tests.unit.test_notifier_consent_property import AT, PEOPLE

TOPICS = Topics()


class SlowSender(RecordingSender):
    """Takes its time, and remembers how many sends were in flight at once."""

    in_flight: int = 0
    most: int = 0

    async def send(self, to: str, subject: str, body: str, notification_id: str,
                   parts: MailParts | None = None) -> str:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return await super().send(to, subject, body, notification_id, parts)


def request(n: int) -> NotificationRequested:
    return NotificationRequested(
        occurred_at=AT, course_id="c", notification_id=f"c:n{n}", kind="contact_reminder",
        recipient_id="psy", recipient_role="psychologist", psychologist_id="psy",
        requires_consent="none")


async def _run(batch: list[NotificationRequested]) -> tuple[SlowSender, FakeProducer]:
    producer = FakeProducer()
    ledger = ready_table("ledger", producer, LedgerEntry)
    consents: FakeView[ConsentState] = FakeView()
    sender = SlowSender(consents)
    handlers = NotifierHandlers(TOPICS, producer, ledger, FakeView(dict(PEOPLE)), consents,
                                sender, RecordingSms(), ManualClock(AT),
                                NotifierSettings(concurrency=4), members_of("c", psychologist_id="psy"))
    await handlers.on_requests([Record(TOPICS.notifications_requested, encode_event(r), b"c",
                                       0, i) for i, r in enumerate(batch)])
    return sender, producer


def test_a_batch_is_sent_concurrently_up_to_the_limit() -> None:
    sender, producer = asyncio.run(_run([request(n) for n in range(10)]))
    assert sorted(n for n, _ in sender.sent) == sorted(f"c:n{n}" for n in range(10))
    assert sender.most == 4
    assert len(producer.on(TOPICS.notifications_status)) == 10


def test_a_request_twice_in_one_batch_is_sent_once_and_reported_twice() -> None:
    sender, producer = asyncio.run(_run([request(1), request(2), request(1)]))
    assert sorted(n for n, _ in sender.sent) == ["c:n1", "c:n2"]
    statuses = [decode_event(s.value or b"") for s in producer.on(TOPICS.notifications_status)]
    assert sorted(getattr(s, "notification_id", "") for s in statuses) == ["c:n1", "c:n1", "c:n2"]
    assert {s.type for s in statuses} == {"notification.sent"}
