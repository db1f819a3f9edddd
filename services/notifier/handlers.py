"""The last gate: ledger, consent at the moment of sending, channel, render, deliver, report.

Order per notification: look in the ledger (a repeat sends nothing), bring the people and
consent views up to the topics' current end, decide, send, write the ledger, publish the status,
and only then let the input offset be committed. The send and its ledger write hold the
ledger's partition (ChangelogTable.holding): none starts once the partition was revoked, and a
revocation waits for those under way, so the next owner's replay finds their entries. A ledger
write that fails is tried again in place before the request fails (and comes again).

The gap left: a message the provider accepted whose ledger entry never got written (a crash in
between, a revocation that stopped waiting, a member its group dropped while it worked on requests
and that sent on until it heard), or whose acceptance never reached us (the connection lost
after the message was handed over): the request is tried again and the message may arrive
twice, with the same Message-ID (e-mail) or reference (SMS), so the copy can be recognised
downstream. The fence is looked at when a poll's requests are admitted, and a request may then
wait in its slot for its course's members (`membership_wait_seconds`, a couple of seconds)
before it sends: that wait widens the window of a dropped member by as much. A request whose
members take longer is parked in the ledger instead, and its later try holds the ledger's
partition like any parked one.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from aiokafka.errors import KafkaError

from services.notifier.adapters.provider import PermanentFailure, TemporaryFailure
from services.notifier.config import NotifierSettings
from services.notifier.domain.delivery import Defer, Send, Suppress, plan_delivery, retry_moment
from services.notifier.domain.ics import Address
from services.notifier.domain.ledger import LedgerEntry, for_retention
from services.notifier.domain.membership import (
    CourseMembers,
    may_be_on_its_way,
    next_look,
    without_erased,
)
from services.notifier.domain.render import (
    Rendered,
    build_context,
    course_link,
    render,
    with_invitation,
)
from services.notifier.ports import MailParts, MailSender, NobodyErased, SmsProvider, View
from shared import telemetry
from shared.catalogue import events_on
from shared.clock import Clock
from shared.events import (
    Channel,
    ConsentState,
    Event,
    NotificationDeferred,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    NotificationSuppressed,
    Person,
    encode_event,
)
from shared.kafka import Publisher, decode_or_dead_letter
from shared.logging import get_logger, redact_text
from shared.ops import NOTIFICATIONS
from shared.state import ChangelogTable, PartitionMoved
from shared.timers import DurableTimers, tick_forever
from shared.topics import Topics

log = get_logger("notifier")
_NS = uuid5(NAMESPACE_URL, "https://lederkontakt/notifier")
# The shortest limit of a reason on notifications.status (suppressed, deferred).
MAX_REASON = 200
# Pauses between tries of a ledger write before the request is given up (and comes again).
LEDGER_WRITE_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)
# How often a request waiting for its course's members looks again.
MEMBERSHIP_POLL_SECONDS = 0.1


def provider_text(text: str) -> str:
    """What a provider or a library said, fit for a status, the ledger and a log line: personal
    data redacted, and cut (a provider may answer with a page of HTML)."""
    return redact_text(text.replace("\n", " "))[:MAX_REASON]


def _sanitised(entry: LedgerEntry) -> LedgerEntry:
    if entry.reason is None:
        return entry
    return entry.model_copy(update={"reason": provider_text(entry.reason)})


def _label(reason: str | None) -> str:
    """A metrics label of few values: the reason's first words, never a provider's whole text."""
    return (reason or "").split(":")[0][:40]


def _age(source: Any) -> timedelta | None:
    """How long ago the request was written, by the wall clock (the record's timestamp, not the
    service's clock, which tests and demos run faster); None for one this service made or
    parked itself."""
    stamp = getattr(source, "timestamp", None)
    return None if stamp is None else timedelta(seconds=max(0.0, time.time() - stamp / 1000))


def _next_try(entry: LedgerEntry) -> datetime | None:
    return entry.due_at if not entry.terminal and entry.request is not None else None


def crash_point(name: str) -> None:
    """Fault injection for crash tests: LEDERKONTAKT_CRASH_AT=<name> kills the process here."""
    if os.environ.get("LEDERKONTAKT_CRASH_AT") == name:
        os._exit(137)


@dataclass
class NotifierHandlers:
    topics: Topics
    producer: Publisher
    ledger: ChangelogTable[LedgerEntry]
    people: View[Person]
    consents: View[ConsentState]
    smtp: MailSender
    sms: SmsProvider
    clock: Clock
    settings: NotifierSettings
    members: View[CourseMembers]
    # Who was erased (`erasures`): nothing goes out in a course about them.
    erased: View[object] = field(default_factory=NobodyErased)
    # The morning digest's words, worked out at the moment of sending (None: nothing to say).
    digest_content: Callable[[NotificationRequested, Person], Awaitable[Rendered | None]] | None \
        = None
    # Parked notifications (quiet hours, retries), by the moment of their next try.
    parked: DurableTimers[LedgerEntry] = field(init=False)
    _in_flight: set[str] = field(default_factory=set)
    # The request being worked on per notification id (a later one waits for it).
    _working: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.parked = DurableTimers(self.ledger, _next_try)

    def is_erased(self, person_id: str) -> bool:
        return self.erased.get(person_id) is not None

    async def on_request(self, record: Any) -> None:
        await self.on_requests([record])

    async def on_requests(self, records: Sequence[Any]) -> None:
        """A batch of requests, worked on as on_record does, up to `concurrency` at once.
        Whatever fails, everything already started is finished before the error is raised and
        the batch redelivered (the ledger then answers for what was done)."""
        slots = asyncio.Semaphore(max(1, self.settings.concurrency))

        async def one(record: Any) -> None:
            async with slots:
                await self.on_record(record)

        results = await asyncio.gather(*(one(r) for r in records), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def on_record(self, record: Any) -> None:
        """One request. Distinct notifications are worked on at once; a notification requested
        again while its earlier request is still worked on is looked at only once that one is
        settled (the ledger then says what was done)."""
        await self.ledger.wait_ready()
        event = await decode_or_dead_letter(self.producer, record,
                                            self.topics.dlq("notifications.requested"),
                                            events_on("notifications.requested"),
                                            now=self.clock.now())
        if not isinstance(event, NotificationRequested):
            return
        nid = event.notification_id
        earlier = self._working.get(nid)
        mine = asyncio.get_running_loop().create_future()
        self._working[nid] = mine
        try:
            if earlier is not None:
                await earlier
            telemetry.handling(record)  # this task's own record, for its trace
            await self._on_event(event, record)
        finally:
            mine.set_result(None)
            if self._working.get(nid) is mine:
                del self._working[nid]

    async def _on_event(self, event: NotificationRequested, record: Any) -> None:
        # A rebalance may come while this request waits for a free slot: the ledger's partitions
        # are then being replayed, and a missing entry would mean a second send.
        await self.ledger.wait_ready()
        entry = self.ledger.get(event.notification_id)
        if entry is not None:
            if entry.terminal:
                # Sent (or settled) before: report it again, send nothing.
                await self._publish_status(event, entry)
                log.info("notification_repeat", notification_id=event.notification_id,
                         state=entry.state)
            return  # a parked notification belongs to the timer loop
        await self.attempt(event, record.partition, attempts=0, source=record)

    async def attempt(self, request: NotificationRequested, partition: int, attempts: int,
                      source: Any = None, own: bool = False) -> None:
        """`own`: made by this service (a digest, or a request it parked itself after the gate
        let it through), not read from a topic anyone can write to."""
        nid = request.notification_id
        if nid in self._in_flight:
            return
        self._in_flight.add(nid)
        try:
            await self._attempt(request, partition, attempts, source, own)
        except PartitionMoved:
            # Not committed here: the partition's next owner reads the request again.
            log.info("notification_left_to_next_owner", notification_id=nid, partition=partition)
        finally:
            self._in_flight.discard(nid)

    async def _attempt(self, request: NotificationRequested, partition: int, attempts: int,
                       source: Any, own: bool) -> None:
        decided = await self._decide(request, own, _age(source))
        if isinstance(decided, str):
            await self._fail(request, partition, None, decided, attempts, source)
            return
        plan, members, now = decided
        if isinstance(plan, Suppress | Defer):
            # Written like a send, under the partition and only if still due: the decision may
            # have taken the membership wait, and a stale entry written over what the
            # partition's next owner did would have the request looked at (and sent) again.
            async with self.ledger.holding(partition):
                if not self._still_due(request.notification_id, attempts):
                    return
                if isinstance(plan, Suppress):
                    await self._refuse(request, partition, plan, members, attempts, now)
                    return
                await self._park(request, partition, LedgerEntry(
                    notification_id=request.notification_id, state="deferred",
                    channel=plan.channel, reason=plan.reason, attempts=attempts,
                    due_at=plan.until, request=request))
            return
        rendered = await self._rendered(request, plan, members, partition, attempts, source)
        if rendered is None:
            return
        async with self.ledger.holding(partition):
            if self._still_due(request.notification_id, attempts):
                await self._deliver(request, plan, rendered, partition, attempts, source, now)

    async def _refuse(self, request: NotificationRequested, partition: int, plan: Suppress,
                      members: CourseMembers | None, attempts: int, now: datetime) -> None:
        """Settle a request the gate refused; but one naming a role its course's record may still
        get is parked (not held in a slot while the referral service is behind or down) and goes
        through the whole gate again at its next look, until the horizon."""
        parked = self.ledger.get(request.notification_id)
        earlier = parked.awaiting_members_since if parked is not None else None
        # A request the gate let through before (parked for quiet hours or a retry) that no
        # longer holds its role has lost it: it is refused at once.
        if plan.reason == "not_in_role" and (parked is None or earlier is not None) \
                and may_be_on_its_way(request, members):
            since = earlier or now
            again = next_look(since, now,
                              timedelta(seconds=self.settings.membership_horizon_seconds),
                              timedelta(seconds=self.settings.membership_retry_seconds))
            if again is not None:
                await self._park(request, partition, LedgerEntry(
                    notification_id=request.notification_id, state="deferred",
                    reason="awaiting_members", attempts=attempts, due_at=again,
                    request=request, awaiting_members_since=since), report=earlier is None)
                return
        await self._settle(request, partition, LedgerEntry(
            notification_id=request.notification_id, state="suppressed",
            reason=plan.reason, attempts=attempts))

    def _still_due(self, notification_id: str, attempts: int) -> bool:
        """Whether the ledger, as this member holds it now, still leaves this attempt to be
        made: nobody settled the notification or tried it again meanwhile."""
        entry = self.ledger.get(notification_id)
        return entry is None or (not entry.terminal and entry.attempts == attempts)

    async def _decide(self, request: NotificationRequested, own: bool, age: timedelta | None,
                      ) -> tuple[Suppress | Defer | Send, CourseMembers | None, datetime] | str:
        """The gate's decision from the views as they are now; a reason when the rules fail. A
        role that may be on its way to the course's record (see `may_be_on_its_way`) is waited
        for in the slot, up to `membership_wait_seconds` after the request was written (the
        common case: the record follows the course event within milliseconds); a retry from the
        timer loop does not wait."""
        wait = timedelta(seconds=self.settings.membership_wait_seconds)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (wait - age).total_seconds() if age is not None else 0.0
        with telemetry.stage("consent check"):
            while True:
                decided = await self._decide_now(request, own)
                if isinstance(decided, str):
                    return decided
                plan, members, _ = decided
                if not (isinstance(plan, Suppress) and plan.reason == "not_in_role"
                        and may_be_on_its_way(request, members) and loop.time() < deadline):
                    return decided
                await asyncio.sleep(MEMBERSHIP_POLL_SECONDS)

    async def _decide_now(self, request: NotificationRequested, own: bool,
                          ) -> tuple[Suppress | Defer | Send, CourseMembers | None, datetime] | str:
        # The views must hold every consent change written before this moment.
        await asyncio.gather(self.consents.catch_up(), self.people.catch_up(),
                             self.members.catch_up(), self.erased.catch_up())
        now = self.clock.now()
        consent = self.consents.get(request.course_id) if request.course_id else None
        members = without_erased(
            self.members.get(request.course_id) if request.course_id else None,
            self.is_erased)
        try:
            plan = plan_delivery(request, self.people.get(request.recipient_id), consent,
                                 members, now, self.settings.quiet_from,
                                 self.settings.quiet_to, own=own)
        except Exception as exc:  # a bug in the rules must not hold up the partition
            return f"rules failed: {type(exc).__name__}: {exc}"
        return plan, members, now

    async def _rendered(self, request: NotificationRequested, plan: Send,
                        members: CourseMembers | None, partition: int, attempts: int,
                        source: Any) -> Rendered | None:
        """The message's words; None once the request is settled without them."""
        try:
            with telemetry.stage("render"):
                rendered = await self._render(request, plan.recipient, plan.channel, members)
        except Exception as exc:
            # A template error or a kind without texts: this request can never be sent, and it
            # must not hold up the requests behind it.
            await self._fail(request, partition, plan.channel,
                             f"cannot render: {type(exc).__name__}: {exc}", attempts, source)
            return None
        if rendered is None:
            await self._settle(request, partition, LedgerEntry(
                notification_id=request.notification_id, state="suppressed",
                reason="nothing_to_report", attempts=attempts))
        return rendered

    async def _deliver(self, request: NotificationRequested, plan: Send, rendered: Rendered,
                       partition: int, attempts: int, source: Any, now: datetime) -> None:
        channel = plan.channel
        try:
            with telemetry.stage(f"{'smtp' if channel == 'email' else 'sms'} send"):
                provider_id = await self._send(request, plan, rendered)
        except TemporaryFailure as exc:
            await self._retry_later(request, partition, channel, exc, attempts + 1, source, now)
            return
        except PermanentFailure as exc:
            await self._fail(request, partition, channel, exc.reason, attempts + 1, source)
            return
        crash_point("after_send")
        await self._settle(request, partition, LedgerEntry(
            notification_id=request.notification_id, state="sent", channel=channel,
            provider_message_id=provider_id, attempts=attempts + 1),
            sms_segments=rendered.sms_segments)

    async def _send(self, request: NotificationRequested, plan: Send, rendered: Rendered) -> str:
        recipient = plan.recipient
        if plan.channel == "email":
            assert recipient.email is not None
            return await self.smtp.send(
                recipient.email, rendered.subject, rendered.body, request.notification_id,
                MailParts(html=rendered.html, language=rendered.language, to_name=recipient.name,
                          calendar=rendered.calendar, calendar_method=rendered.calendar_method))
        assert recipient.phone is not None
        return await self.sms.send(recipient.phone, rendered.body, request.notification_id)

    async def _retry_later(self, request: NotificationRequested, partition: int,
                           channel: Channel, exc: TemporaryFailure, attempts: int, source: Any,
                           now: datetime) -> None:
        if exc.maybe_delivered:
            # The one way a retry may deliver twice without a crash: counted by the benches.
            log.warning("send_outcome_unknown", notification_id=request.notification_id,
                        channel=channel, reason=exc.reason)
        again = retry_moment(attempts, self.settings.max_attempts, now, exc.retry_after,
                             self.settings.retry_base_seconds)
        if again is None:
            await self._fail(request, partition, channel,
                             f"gave up after {attempts} attempts: {exc.reason}", attempts, source)
            return
        await self._park(request, partition, LedgerEntry(
            notification_id=request.notification_id, state="retrying", channel=channel,
            reason=exc.reason, attempts=attempts, due_at=again, request=request))

    async def _render(self, request: NotificationRequested, recipient: Person, channel: Channel,
                      members: CourseMembers | None) -> Rendered | None:
        if request.kind == "daily_digest" and self.digest_content is not None:
            return await self.digest_content(request, recipient)
        # The course's own psychologist, never the one a request names: a forged id would put
        # someone else's name and phone number in the message.
        psychologist = self.people.get(members.psychologist_id) \
            if members is not None and members.psychologist_id else None
        rendered = render(request.kind, recipient.language, channel,
                          build_context(request, recipient, psychologist),
                          course_link(request, self.settings.portal_url))
        if channel != "email":
            return rendered
        # The organiser is the mailbox the invitation comes from (see domain/ics.py).
        smtp = self.settings.smtp()
        return with_invitation(rendered, request, recipient,
                               Address(smtp.sender, smtp.sender_name))

    async def _fail(self, request: NotificationRequested, partition: int, channel: Channel | None,
                    reason: str, attempts: int, source: Any) -> None:
        reason = provider_text(reason)
        await self._settle(request, partition, LedgerEntry(
            notification_id=request.notification_id, state="failed", channel=channel,
            reason=reason, attempts=attempts))
        raw = source.value if source is not None else encode_event(request)
        where = (source.topic, source.partition, source.offset) if source is not None else (
            self.topics.notifications_requested, partition, -1)
        await self.producer.dead_letter(self.topics.dlq("notifications.requested"), raw,
                                        (request.course_id or "").encode() or None, reason, where)

    async def _settle(self, request: NotificationRequested, partition: int, entry: LedgerEntry,
                      sms_segments: int | None = None) -> None:
        entry = for_retention(_sanitised(entry), request, self.clock.now())
        with telemetry.stage("state write"):
            await self._record(entry, partition)
        NOTIFICATIONS.labels(entry.state, entry.channel or "", _label(entry.reason)).inc()
        crash_point("after_ledger")
        await self._publish_status(request, entry, sms_segments)
        log.info("notification", notification_id=entry.notification_id, kind=request.kind,
                 role=request.recipient_role, state=entry.state, channel=entry.channel,
                 reason=entry.reason, attempts=entry.attempts)

    async def _park(self, request: NotificationRequested, partition: int,
                    entry: LedgerEntry, report: bool = True) -> None:
        """Write the waiting entry and set its timer; `report`: count it and publish it as
        deferred (a request parked again for the same reason is neither counted nor reported
        again)."""
        entry = for_retention(_sanitised(entry), request, self.clock.now())
        await self._record(entry, partition)
        assert entry.due_at is not None
        self.parked.push(entry.due_at, entry.notification_id, partition)
        if report:
            NOTIFICATIONS.labels(entry.state, entry.channel or "", _label(entry.reason)).inc()
            await self._publish_status(request, entry)
        log.info("notification_parked", notification_id=entry.notification_id,
                 state=entry.state, until=entry.due_at.isoformat(), reason=entry.reason)

    async def _record(self, entry: LedgerEntry, partition: int) -> None:
        """Write the ledger entry, trying again in place while Kafka does not acknowledge it: a
        message already sent and not recorded would be sent again when the request comes back."""
        for pause in LEDGER_WRITE_PAUSES:
            try:
                await self.ledger.put(entry.notification_id, entry, partition)
                return
            except KafkaError as exc:
                log.warning("ledger_write_failed", notification_id=entry.notification_id,
                            state=entry.state, retry_in_seconds=pause,
                            error=type(exc).__name__)
                await asyncio.sleep(pause)
        await self.ledger.put(entry.notification_id, entry, partition)

    async def _publish_status(self, request: NotificationRequested, entry: LedgerEntry,
                              sms_segments: int | None = None) -> None:
        # Waiting for members and then for the quiet hours are two deferrals of one attempt.
        waiting = "/awaiting_members" if entry.awaiting_members_since is not None else ""
        common: dict[str, Any] = dict(
            event_id=uuid5(_NS, f"{entry.notification_id}/{entry.state}/{entry.attempts}"
                                f"{waiting}"),
            occurred_at=self.clock.now(), course_id=request.course_id,
            correlation_id=request.correlation_id, notification_id=entry.notification_id,
            kind=request.kind, recipient_role=request.recipient_role)
        status: Event
        if entry.state == "sent":
            status = NotificationSent(**common, channel=entry.channel,
                                      provider_message_id=entry.provider_message_id,
                                      sms_segments=sms_segments)
        elif entry.state == "suppressed":
            status = NotificationSuppressed(**common, reason=entry.reason or "")
        elif entry.state == "failed":
            status = NotificationFailed(**common, reason=entry.reason or "",
                                        attempts=entry.attempts)
        else:
            assert entry.due_at is not None
            status = NotificationDeferred(**common, until=entry.due_at,
                                          reason=entry.reason or entry.state)
        with telemetry.stage("publish"):
            await self.producer.publish(self.topics.notifications_status, status)

    async def tick(self) -> int:
        """Send every parked notification whose time has come; returns how many were tried.
        One whose request is still being parked, or whose try fails (Kafka, a view), is tried
        again at a later tick."""
        if not self.ledger.ready.is_set():
            return 0
        self.parked.sync()

        async def retry(nid: str, entry: LedgerEntry, partition: int) -> None:
            assert entry.request is not None
            # A request parked before the gate let it through (waiting for its course's
            # members) is checked as one read from the topic: the whole gate, every time.
            own = entry.awaiting_members_since is None
            await self.attempt(entry.request, partition, entry.attempts, own=own)

        return await self.parked.fire_due(self.clock.now(), retry, busy=self._in_flight.__contains__)

    async def run_timers(self) -> None:
        await tick_forever(self.tick, lambda: self.settings.tick_seconds, "notifier_tick_failed",
                           log)
