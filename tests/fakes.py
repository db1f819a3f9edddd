"""In-memory stand-ins for the ports (producer, views, senders), for handler tests without a
broker; each implements its Protocol, so mypy checks them like the real adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from services.notifier.ports import MailParts
from shared.events import ConsentState, Event, EventDecodeError, decode_event, encode_event
from shared.kafka import Record as KafkaRecord
from shared.state import ChangelogTable

V = TypeVar("V")


@dataclass
class Sent:
    topic: str
    value: bytes | None
    key: str | None
    partition: int | None
    headers: dict[str, str]


@dataclass
class FakeProducer:
    sent: list[Sent] = field(default_factory=list)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes | None, key: str | None,
                   partition: int | None = None, headers: dict[str, str] | None = None) -> None:
        self.sent.append(Sent(topic, value, key, partition, headers or {}))

    async def publish(self, topic: str, event: Event, partition: int | None = None) -> None:
        await self.send(topic, encode_event(event), event.key, partition)

    async def learn_partitions(self, *topics: str) -> None: ...

    def partition_for(self, topic: str, key: bytes | None) -> int | None:
        return None

    async def send_records(self, records: Sequence[KafkaRecord]) -> None:
        for topic, partition, key, value, headers in records:
            self.sent.append(Sent(topic, value, key.decode() if key else None, partition,
                                  {k: v.decode() for k, v in headers}))

    async def publish_all(self, outputs: Sequence[tuple[str, Event]]) -> None:
        for topic, event in outputs:
            await self.publish(topic, event)

    async def dead_letter(self, dlq_topic: str, raw: bytes | None, key: bytes | None,
                          reason: str, source: tuple[str, int, int]) -> None:
        self.sent.append(Sent(dlq_topic, raw, key.decode(errors="replace") if key else None,
                              None, {"dlq.reason": reason}))

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord that handlers read."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int = 0
    offset: int = 0
    headers: list[Any] = field(default_factory=list)
    timestamp: int | None = None  # milliseconds since the epoch, when the record was written


def natural_key(raw: bytes | None) -> bytes:
    """The key a well-behaved producer gives a record (the event's course, person or referral
    id), so that fuzzed but valid events are applied rather than refused as mis-keyed."""
    try:
        key = decode_event(raw).key
    except EventDecodeError:
        return b"k"
    return key.encode() if key else b"k"


@dataclass
class FakeView(Generic[V]):
    """A people or consents view that is always caught up."""

    values: dict[str, V] = field(default_factory=dict)

    def get(self, key: str) -> V | None:
        return self.values.get(key)

    async def catch_up(self) -> None: ...


@dataclass
class RecordingSender:
    """Stands in for SMTP and SMS; records the course's consent as it was at each send."""

    consents: FakeView[ConsentState]
    sent: list[tuple[str, ConsentState]] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str, notification_id: str,
                   parts: MailParts | None = None) -> str:
        state = self.consents.get("c") or ConsentState()
        self.sent.append((notification_id, state))
        self.addresses.append(to)
        self.bodies.append(body)
        return "id"

    async def close(self) -> None: ...


@dataclass
class RecordingSms:
    """Stands in for the SMS provider; records each text sent."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def send(self, msisdn: str, text: str, reference: str) -> str:
        self.sent.append((msisdn, text, reference))
        return f"sms-{len(self.sent)}"

    async def close(self) -> None: ...


def members_of(course_id: str, **roles: str) -> FakeView[Any]:
    """A course-membership view holding one course, e.g. members_of("c", leader_id="lead")."""
    from services.notifier.domain.membership import CourseMembers

    return FakeView({course_id: CourseMembers(started=True, **roles)})


M = TypeVar("M", bound=BaseModel)


def ready_table(topic: str, producer: Any, model: type[M],
                encode: Callable[[M], bytes] | None = None) -> ChangelogTable[M]:
    """A state table with nothing to replay, ready at once; values are `model` as JSON."""
    table: ChangelogTable[M] = ChangelogTable(
        topic, {}, producer, encode=encode or (lambda v: v.model_dump_json().encode()),
        decode=model.model_validate_json)
    table.ready.set()
    return table
