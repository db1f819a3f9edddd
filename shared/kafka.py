"""Producing events, dead-lettering what cannot be read, and the consumer settings we rely on."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.events import Event, EventDecodeError, decode_event, encode_event
from shared.logging import get_logger, redact_text
from shared.ops import ALERTS, DEAD_LETTERED, PRODUCED, observe_consumed
from shared.telemetry import consuming, handling, stage, trace_headers

log = get_logger(__name__)

# (topic, partition or None for the key's partition, key, value, headers)
Record = tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]


# How far in the future an event may be dated and still be applied (clocks drift a little).
MAX_CLOCK_SKEW = timedelta(seconds=float(os.environ.get("LEDERKONTAKT_MAX_CLOCK_SKEW_SECONDS",
                                                        "300")))

# From this many records on, send_records builds its own batches.
BATCH_BUILDER_FROM = 64


def event_record(topic: str, event: Event, partition: int | None = None) -> Record:
    """An event as a Kafka record: keyed by its key (the course id, mostly), JSON value, its
    type in a header so consumers and metrics can tell it without decoding, and the trace
    context of the event being handled."""
    key = event.key.encode() if event.key else None
    return (topic, partition, key, encode_event(event),
            [("type", getattr(event, "type", "").encode()), *trace_headers(key)])

# Range assignment gives one member the same partition numbers of every co-partitioned input
# topic, so the state of a course (kept per partition number) sits with all of its events.
CO_PARTITIONED: Sequence[Any] = (RangePartitionAssignor,)


class Publisher(Protocol):
    """What handlers and state tables need of a producer: EventProducer on Kafka, a fake in
    the tests."""

    async def send(self, topic: str, value: bytes | None, key: str | None,
                   partition: int | None = None, headers: dict[str, str] | None = None) -> None: ...

    async def publish(self, topic: str, event: Event, partition: int | None = None) -> None: ...

    async def publish_all(self, outputs: Sequence[tuple[str, Event]]) -> None: ...

    async def send_records(self, records: Sequence[Record]) -> None: ...

    async def learn_partitions(self, *topics: str) -> None: ...

    def partition_for(self, topic: str, key: bytes | None) -> int | None: ...

    async def dead_letter(self, dlq_topic: str, raw: bytes | None, key: bytes | None,
                          reason: str, source: tuple[str, int, int]) -> None: ...


class EventProducer:
    """One idempotent producer per process; every send waits for the broker's acknowledgement."""

    def __init__(self, kafka_kwargs: dict[str, Any]) -> None:
        self._kafka_kwargs = kafka_kwargs
        self._client: AIOKafkaProducer | None = None
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._client is None:
            raise RuntimeError("EventProducer used before start()")
        return self._client

    async def start(self) -> None:
        # aiokafka binds a producer to the running loop, so it is made here, not in __init__.
        if self._client is None:
            client = AIOKafkaProducer(
                **self._kafka_kwargs, acks="all", enable_idempotence=True, linger_ms=0,
                max_request_size=2 * 1024 * 1024, max_batch_size=1024 * 1024,
                compression_type="snappy",
            )
            try:
                await client.start()
            except BaseException:
                await client.stop()
                raise
            self._client = client

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()
            self._client = None

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: str | None,
        partition: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw_key = key.encode() if key is not None else None
        await self._producer.send_and_wait(
            topic,
            value=value,
            key=raw_key,
            partition=partition,
            headers=[(k, v.encode()) for k, v in (headers or {}).items()] + trace_headers(raw_key),
        )

    async def publish(self, topic: str, event: Event, partition: int | None = None) -> None:
        await self.send_records([event_record(topic, event, partition)])

    async def publish_all(self, outputs: Sequence[tuple[str, Event]]) -> None:
        """Send every event at once and return when the broker has acknowledged them all."""
        await self.send_records([event_record(topic, event) for topic, event in outputs])

    async def send_records(self, records: Sequence[Record]) -> None:
        """Many already encoded records in as few produce requests as possible; returns when the
        broker has acknowledged them all. Records of one topic partition keep their order.

        Appending to a batch per topic partition costs a few microseconds a record, against some
        twenty for a send() each: this is how the scheduler's 08:30 burst leaves in time."""
        producer = self._producer
        futures = []
        if len(records) < BATCH_BUILDER_FROM:
            # A few records go through the accumulator, which merges what concurrent callers
            # send into shared batches. A batch built here is sent on its own, and aiokafka
            # keeps one batch per partition in flight: many small ones would queue up.
            for topic, partition, key, value, headers in records:
                futures.append(await producer.send(topic, value, key=key, partition=partition,
                                                   headers=headers))
            await asyncio.gather(*futures)
            _count_produced(records)
            return
        batches: dict[tuple[str, int], Any] = {}
        for topic, partition, key, value, headers in records:
            if partition is None:
                partition = await self._partition_for(topic, key)
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"a record for {topic} is larger than a whole batch")
        for (topic, partition), batch in batches.items():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        _count_produced(records)

    async def learn_partitions(self, *topics: str) -> None:
        """Fetch (once) the partitions of topics, so partition_for can answer for them."""
        for topic in topics:
            if topic not in self._partitions:
                self._partitions[topic] = sorted(await self._producer.partitions_for(topic))

    async def _partition_for(self, topic: str, key: bytes | None) -> int:
        await self.learn_partitions(topic)
        partition = self.partition_for(topic, key)
        assert partition is not None
        return partition

    def partition_for(self, topic: str, key: bytes | None) -> int | None:
        """The partition aiokafka's default partitioner gives this key (murmur2, as Java's), or
        None while the topic's partitions are not known yet (after its first send they are)."""
        partitions = self._partitions.get(topic)
        if partitions is None or key is None:
            return None
        return int(self._partitioner(key, partitions, partitions))

    async def dead_letter(
        self,
        dlq_topic: str,
        raw: bytes | None,
        key: bytes | None,
        reason: str,
        source: tuple[str, int, int],
    ) -> None:
        """The original bytes go to the DLQ untouched; why, and where from, go in headers."""
        topic, partition, offset = source
        DEAD_LETTERED.labels(dlq_topic).inc()
        await self._producer.send_and_wait(
            dlq_topic,
            value=raw,
            key=key,
            headers=[
                ("dlq.reason", redact_text(reason)[:1000].encode()),
                ("dlq.source.topic", topic.encode()),
                ("dlq.source.partition", str(partition).encode()),
                ("dlq.source.offset", str(offset).encode()),
                *trace_headers(key),
            ],
        )


def _count_produced(records: Sequence[Record]) -> None:
    """Events (records with a type header) by topic and type; one label lookup per kind."""
    counts: Counter[tuple[str, str]] = Counter()
    for topic, _, _, _, headers in records:
        for name, value in headers:
            if name == "type":
                counts[(topic, value.decode())] += 1
    for (topic, kind), n in counts.items():
        PRODUCED.labels(topic, kind).inc(n)


def refusal(event: Event, record_key: bytes | None, now: datetime | None,
            skew: timedelta = MAX_CLOCK_SKEW, keyed: bool = True,
            partition: tuple[int, int | None] | None = None) -> str | None:
    """Why a well-formed event must still not be applied, or None. A record whose key is not
    the key its event names, or that a producer put in another partition than its key's
    (`partition`: where it is, where its key belongs), sits apart from the rest of its course
    (or person), where a second copy of the state would grow; an event dated beyond the clock
    skew in the future would win every later statement ("latest wins") until that date."""
    key = event.key
    if keyed and key is not None and record_key != key.encode():
        return "record key does not match the event's key (the course or person id)"
    if keyed and partition is not None and partition[1] is not None \
            and partition[0] != partition[1]:
        return (f"record is in partition {partition[0]}, but its key belongs in partition "
                f"{partition[1]}")
    if now is not None and event.occurred_at > now + skew:
        return (f"occurred_at {event.occurred_at.isoformat()} is more than "
                f"{int(skew.total_seconds())} s in the future")
    return None


async def decode_or_dead_letter(
    producer: Publisher,
    record: Any,
    dlq_topic: str,
    expected: tuple[type[Event], ...] = (),
    now: datetime | None = None,
    skew: timedelta = MAX_CLOCK_SKEW,
    keyed: bool = True,
) -> Event | None:
    """The event in a consumer record, or None once the record is safely in the DLQ: when it
    cannot be decoded, is mis-keyed (unless `keyed` is off), or (given `now`) is dated in the
    future. The handler is taken to work on this record from here on (for its trace)."""
    handling(record)
    event: Event | None = None
    home = await home_partition(producer, record) if keyed else None
    try:
        with stage("decode"):
            event = decode_event(record.value, expected)
        reason = refusal(event, record.key, now, skew, keyed, (record.partition, home))
    except EventDecodeError as exc:
        reason = exc.reason
    except Exception as exc:  # nothing a record holds may stall its partition
        reason = f"unreadable: {type(exc).__name__}"
    if reason is None:
        return event
    await producer.dead_letter(dlq_topic, record.value, record.key, reason,
                               (record.topic, record.partition, record.offset))
    kind = getattr(event, "type", None) or header(record, "type")
    if kind in ("consent.given", "consent.withdrawn"):
        # A consent statement that can never apply is a person's word not taken: alert.
        ALERTS.labels("consent_statement_refused").inc()
    log.warning("dead_lettered", topic=record.topic, partition=record.partition,
                offset=record.offset, dlq=dlq_topic, reason=reason)
    return None


async def home_partition(producer: Publisher, record: Any) -> int | None:
    """The partition the default partitioner gives the record's key, or None when it cannot be
    known now (no key, the topic's partitions not answered): the check is then left out."""
    if record.key is None:
        return None
    try:
        await producer.learn_partitions(record.topic)
    except Exception:  # a broker that does not answer now must not send the record to the DLQ
        return None
    return producer.partition_for(record.topic, record.key)


def header(record: Any, name: str) -> str | None:
    for key, value in getattr(record, "headers", None) or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]

# FastStream's batch loop polls for `batch_timeout_ms` and, when the poll found nothing, sleeps
# just as long; a record that arrives during the sleep waits it out (at 100 ms that was up to
# 100 ms a hop, four hops on the sessions path). So the sleep is kept short ...
BATCH_WAIT_MS = 10
# ... while the poll itself waits up to IDLE_POLL_MS (SubscriberConsumer): a poll returns as
# soon as a record is there, so its length costs no latency, and an idle subscriber wakes once a
# second instead of fifty times (each wake-up is a pass through aiokafka's fetcher: a service
# of three subscribers spent some 50 ms of CPU a second doing nothing).
IDLE_POLL_MS = 1000


class SubscriberConsumer(AIOKafkaConsumer):  # type: ignore[misc]
    """The consumer FastStream builds for each subscriber: its polls wait for records at least
    IDLE_POLL_MS, whatever shorter time the batch loop asks for; the commit after a batch
    carries only the partitions this member has read on since it last committed them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What this member committed, per partition, under the assignment it holds now.
        self._committed_under: Any = None
        self._committed: dict[Any, int] = {}

    async def getmany(self, *partitions: Any, timeout_ms: int = 0,
                      max_records: int | None = None) -> Any:
        return await super().getmany(*partitions, timeout_ms=max(timeout_ms, IDLE_POLL_MS),
                                     max_records=max_records)

    async def commit(self, offsets: Any = None) -> None:
        """With no offsets (FastStream's commit after a batch), the consumed position of each
        assigned partition whose position moved since this member committed it; aiokafka would
        commit every assigned partition, a record each in the group's offsets log (a scheduler
        reads 18 partitions, a batch of one record touches one). Offsets given are committed as
        they are (still_member's question to the group must reach it)."""
        if offsets is not None:
            await super().commit(offsets)
            return
        # aiokafka makes a new assignment object on each rebalance: what was committed under
        # an earlier one says nothing about the offsets now (another member may have moved them).
        subscription = self._subscription.subscription
        assignment = subscription.assignment if subscription is not None else None
        if assignment is None:
            await super().commit()  # raises as aiokafka does
            return
        if assignment is not self._committed_under:
            self._committed_under, self._committed = assignment, {}
        moved = {tp: at for tp, at in assignment.all_consumed_offsets().items()
                 if self._committed.get(tp) != at.offset}
        if moved:
            await super().commit(moved)
            self._committed.update({tp: at.offset for tp, at in moved.items()})


def consume(broker: KafkaBroker, *topics: str, group_id: str, listener: Any, service: str,
            handle: BatchHandler, batch_size: int = 500, fenced: bool = False) -> None:
    """The subscriber every service uses. `handle` gets up to `batch_size` records at once, and
    their offsets are committed together once it returns (a failure seeks every partition of
    the batch back for redelivery). A new group starts at the earliest offset; assignment is
    co-partitioned; the rebalance listener rebuilds state before input is processed. Each record
    is counted for the ops metrics (consumed, lag) and traced (shared.telemetry). `fenced`: a
    batch is handled only once the group confirms this member still owns its partitions
    (still_member), for handlers whose effects Kafka cannot take back (a message sent)."""
    from faststream.middlewares import AckPolicy

    async def on_batch(msg: KafkaMessage) -> None:
        for record in msg.raw_message:
            observe_consumed(service, record, msg.consumer)
        if fenced and not await still_member(msg.consumer, msg.raw_message, service):
            return
        with consuming(service, msg.raw_message):
            await handle(msg.raw_message)

    # The AsyncAPI documents name each subscriber after its handler.
    on_batch.__name__ = on_batch.__qualname__ = getattr(handle, "__name__", "on_batch")
    broker.subscriber(
        *topics, group_id=group_id, listener=listener, auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR, partition_assignment_strategy=CO_PARTITIONED,
        batch=True, max_records=batch_size, batch_timeout_ms=BATCH_WAIT_MS,
        decoder=_records_undecoded)(on_batch)


async def still_member(consumer: Any, records: Sequence[Any], service: str) -> bool:
    """Whether the group still counts this member the owner of the records' partitions, asked
    by committing again the offsets the batch starts at (what is already committed). A member
    the group dropped while it could not reach the coordinator (its heartbeats lost in a
    network fault) learns it here, instead of working through a batch that another member
    now works through too; the records come again to whoever owns them."""
    from aiokafka import TopicPartition

    first: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
    return await still_member_at(consumer, first, service, len(records))


async def still_member_at(consumer: Any, offsets: dict[Any, int], service: str,
                          records: int) -> bool:
    """still_member, asked by committing `offsets` (which must be safe to commit)."""
    from aiokafka.errors import CommitFailedError, IllegalStateError

    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as exc:
        log.warning("batch_left_to_group", service=service, records=records,
                    error=type(exc).__name__)
        return False
    return True


async def _records_undecoded(msg: Any) -> Any:
    """The handlers decode each record themselves (decode_or_dead_letter), so that whatever a
    record holds ends in the DLQ. FastStream's own JSON parse of the batch would raise on a
    poison record (deep nesting, a number of thousands of digits) before them, and the batch
    would be redelivered for ever."""
    return [record.value for record in msg.raw_message]


def make_broker(settings: Any, **options: Any) -> KafkaBroker:
    """A FastStream KafkaBroker with our connection settings; per-message logs at DEBUG; its
    telemetry middleware opens a span per consumed batch (recorded only once a tracer provider
    is installed, see shared.telemetry). `options` go to the broker as they are (producer
    settings such as `acks`)."""

    kwargs = settings.aiokafka_kwargs()
    security: BaseSecurity | None = None
    if settings.security_protocol == "SSL":
        # Without a security object FastStream's subscribers connect in plaintext, whatever
        # the producer does; SSL (client certificates) needs the context passed here too.
        security = BaseSecurity(ssl_context=kwargs["ssl_context"], use_ssl=True)
    elif settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        cls: Any = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256,
               "SCRAM-SHA-512": SASLScram512}[settings.sasl_mechanism]
        security = cls(username=settings.sasl_username or "", password=password,
                       ssl_context=kwargs.get("ssl_context"),
                       use_ssl=settings.security_protocol == "SASL_SSL")
    # The services publish through EventProducer; should anything publish through the broker,
    # it gets the same guarantee: acknowledged by every in-sync replica, never written twice.
    # FastStream takes one string for one address: a cluster's comma-separated list goes as a list.
    servers = [server.strip() for server in kwargs["bootstrap_servers"].split(",") if server.strip()]
    return _Broker(servers, client_id=kwargs["client_id"],
                   security=security, log_level=logging.DEBUG, acks="all",
                   enable_idempotence=True, middlewares=(KafkaTelemetryMiddleware(),),
                   **options)


class _Broker(KafkaBroker):
    """FastStream's Kafka broker, whose subscribers poll with SubscriberConsumer."""

    async def _connect(self) -> Callable[..., AIOKafkaConsumer]:
        await super()._connect()
        # Connecting sets the builder of the subscribers' consumers: aiokafka's consumer with
        # the connection settings, which SubscriberConsumer takes as they are.
        config = self.config.broker_config
        if isinstance(config.builder, partial):
            config.builder = partial(SubscriberConsumer, *config.builder.args,
                                     **config.builder.keywords)
        return config.builder
