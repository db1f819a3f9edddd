"""What a notifier knows when a send fails: whether the provider may have taken the message
(the one case a retry can deliver twice), and that a send that went out gets recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaTimeoutError

from services.notifier.adapters.provider import TemporaryFailure
from services.notifier.adapters.sms import GatewayApiConfig, GatewayApiSms
from services.notifier.adapters.smtp import SmtpConfig, SmtpSender
from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from shared.clock import ManualClock
from shared.events import ConsentState, encode_event
from shared.kafka import still_member
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, members_of, ready_table
from tests.unit.test_notifier_batches import request
from tests.unit.test_notifier_consent_property import AT, PEOPLE

TOPICS = Topics()


async def _smtp_server_that_hangs_up_at(command: bytes) -> asyncio.Server:
    """A plain SMTP server that closes the connection, without an answer, on `command` (or,
    for b".", once the whole message has arrived)."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n" and command == b".":
                    break
                if line == b".\r\n":
                    writer.write(b"250 queued\r\n")
                    in_data = False
                continue
            if line.upper().startswith(command):
                break
            if line.upper().startswith(b"DATA"):
                writer.write(b"354 go on\r\n")
                in_data = True
            else:
                writer.write(b"250 ok\r\n")
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


@pytest.mark.parametrize(("hang_up_at", "maybe"), [(b"MAIL", False), (b".", True)])
def test_an_smtp_connection_lost_after_the_message_was_handed_over_may_have_delivered_it(
    hang_up_at: bytes, maybe: bool,
) -> None:
    async def run() -> TemporaryFailure:
        server = await _smtp_server_that_hangs_up_at(hang_up_at)
        port = server.sockets[0].getsockname()[1]
        sender = SmtpSender(SmtpConfig(port=port, require_starttls=False, timeout=5))
        try:
            with pytest.raises(TemporaryFailure) as failure:
                await sender.send("a@example.org", "s", "b", "n-1")
            return failure.value
        finally:
            await sender.close()
            server.close()

    assert asyncio.run(run()).maybe_delivered is maybe


@pytest.mark.parametrize(("error", "maybe"), [(httpx.ConnectError, False),
                                              (httpx.ReadError, True),
                                              (httpx.ReadTimeout, True)])
def test_an_sms_whose_answer_was_lost_may_have_been_delivered(error: type[Exception],
                                                              maybe: bool) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("lost", request=request)  # type: ignore[call-arg]

    client = httpx.AsyncClient(transport=httpx.MockTransport(fail), base_url="http://sms")
    sms = GatewayApiSms(GatewayApiConfig(base_url="http://sms"), client)
    with pytest.raises(TemporaryFailure) as failure:
        asyncio.run(sms.send("+4520304050", "hej", "n-1"))
    assert failure.value.maybe_delivered is maybe


class _FlakyProducer(FakeProducer):
    """Kafka does not acknowledge the first ledger write."""

    failures: int = 1

    async def send(self, topic: str, value: bytes | None, key: str | None,
                   partition: int | None = None, headers: dict[str, str] | None = None) -> None:
        if topic == "ledger" and self.failures:
            self.failures -= 1
            raise KafkaTimeoutError()
        await super().send(topic, value, key, partition, headers)


def test_a_ledger_write_after_a_send_is_tried_again_in_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from services.notifier import handlers as module

    monkeypatch.setattr(module, "LEDGER_WRITE_PAUSES", (0.01, 0.01))
    producer = _FlakyProducer()
    ledger = ready_table("ledger", producer, LedgerEntry)
    consents: FakeView[ConsentState] = FakeView()
    sender = RecordingSender(consents)
    handlers = NotifierHandlers(TOPICS, producer, ledger, FakeView(dict(PEOPLE)), consents,
                                sender, RecordingSms(), ManualClock(AT), NotifierSettings(),
                                members_of("c", psychologist_id="psy"))
    asyncio.run(handlers.on_requests(
        [Record(TOPICS.notifications_requested, encode_event(request(1)), b"c", 0, 0)]))
    assert [n for n, _ in sender.sent] == ["c:n1"]
    entry = ledger.get("c:n1")
    assert entry is not None and entry.state == "sent"


class _Consumer:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.committed: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.error is not None:
            raise self.error
        self.committed.append(offsets)


def _records() -> Sequence[Any]:
    return [Record("requests", b"", b"k", 1, 7), Record("requests", b"", b"k", 1, 8),
            Record("requests", b"", b"k", 2, 3)]


def test_a_batch_starts_only_once_the_group_confirms_this_member() -> None:
    consumer = _Consumer(None)
    assert asyncio.run(still_member(consumer, _records(), "notifier"))
    assert consumer.committed == [{TopicPartition("requests", 1): 7,
                                   TopicPartition("requests", 2): 3}]


def test_a_member_the_group_dropped_leaves_its_batch_alone() -> None:
    consumer = _Consumer(CommitFailedError("dropped"))
    assert not asyncio.run(still_member(consumer, _records(), "notifier"))
