"""Inputs that used to stall a partition or slip past the rules: each ends in its DLQ (or, for
a view, as a counted skip) with a reason, and what follows it is processed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import shared.notification_kinds as kinds_module
from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.handlers import SchedulerHandlers
from services.contact_scheduler.steps import CourseSteps
from services.notifier.adapters.provider import PermanentFailure
from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from services.notifier.ports import MailParts
from shared.calendar import WorkingDayCalendar
from shared.clock import ManualClock
from shared.events import (
    ConsentGiven,
    ConsentState,
    Event,
    NotificationRequested,
    Person,
    ReferredPerson,
    decode_event,
    encode_event,
)
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, members_of
from tests.samples import AT, referral

TOPICS = Topics("p-")
DEEP = b"[" * 5000 + b"]" * 5000
HUGE = (b'{"type": "consent.given", "schema_version": 1, "occurred_at": "2026-11-26T09:00:00Z", '
        b'"course_id": "c-1", "party": "employee", "scope": "leader_contact", "n": '
        + b"9" * 4500 + b"}")
POISONS = {
    "deep nesting": DEEP,
    "4500-digit number": HUGE,
    "deep object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "invalid UTF-8": b'{"type": "\xff\xfe"}',
    "bidi override in an id": json.dumps({**json.loads(encode_event(ConsentGiven(
        occurred_at=AT, course_id="c-1", party="employee", scope="leader_contact"))),
        "course_id": "c-1\u202e"}).encode(),
    "line break in an id": json.dumps({**json.loads(encode_event(ConsentGiven(
        occurred_at=AT, course_id="c-1", party="employee", scope="leader_contact"))),
        "course_id": "c-1\r\nX"}).encode(),
}


def _table(producer: FakeProducer, decode: Any) -> ChangelogTable[Any]:
    table: ChangelogTable[Any] = ChangelogTable("t", {}, producer,
                                                encode=lambda v: b"{}", decode=decode)
    table.ready.set()
    return table


def _scheduler() -> tuple[SchedulerHandlers, FakeProducer]:
    producer = FakeProducer()
    return SchedulerHandlers(CourseSteps(
        TOPICS, producer, _table(producer, CoursePlan.model_validate_json),
        ContactPlanner(ContactPolicy(), WorkingDayCalendar()), ManualClock(AT))), producer


def _valid(course_id: str = "c-1") -> Event:
    return ConsentGiven(occurred_at=AT, course_id=course_id, party="employee",
                        scope="leader_contact")


@pytest.mark.parametrize("name", sorted(POISONS))
def test_a_poison_on_sessions_goes_to_the_dlq_and_the_next_event_is_applied(name: str) -> None:
    handlers, producer = _scheduler()
    asyncio.run(handlers.on_events([
        Record(TOPICS.sessions, POISONS[name], b"c-1", 0, 0),
        Record(TOPICS.sessions, encode_event(_valid()), b"c-1", 0, 1)]))
    dead = producer.on(TOPICS.dlq("sessions"))
    assert len(dead) == 1 and dead[0].value == POISONS[name] and dead[0].headers["dlq.reason"]
    assert handlers.steps.plans.get("c-1") is not None  # the consent statement after it was applied


def test_a_future_dated_consent_statement_is_refused_with_the_reason() -> None:
    handlers, producer = _scheduler()
    future = ConsentGiven(occurred_at=AT + timedelta(days=365), course_id="c-1",
                          party="employee", scope="leader_contact")
    asyncio.run(handlers.on_event(Record(TOPICS.sessions, encode_event(future), b"c-1")))
    [dead] = producer.on(TOPICS.dlq("sessions"))
    assert "in the future" in dead.headers["dlq.reason"]
    assert handlers.steps.plans.get("c-1") is None


def test_an_event_within_the_clock_skew_is_applied() -> None:
    handlers, producer = _scheduler()
    soon = ConsentGiven(occurred_at=AT + timedelta(minutes=4), course_id="c-1",
                        party="employee", scope="leader_contact")
    asyncio.run(handlers.on_event(Record(TOPICS.sessions, encode_event(soon), b"c-1")))
    assert producer.on(TOPICS.dlq("sessions")) == []


@pytest.mark.parametrize("key", [b"c-2", None, b"c-1 "])
def test_a_mis_keyed_event_goes_to_the_dlq(key: bytes | None) -> None:
    handlers, producer = _scheduler()
    asyncio.run(handlers.on_event(Record(TOPICS.sessions, encode_event(_valid()), key)))
    [dead] = producer.on(TOPICS.dlq("sessions"))
    assert "key does not match" in dead.headers["dlq.reason"]
    assert handlers.steps.plans.get("c-1") is None


class _Partitioned(FakeProducer):
    """A producer whose partitioner puts every key in partition 2."""

    def partition_for(self, topic: str, key: bytes | None) -> int | None:
        return 2


def test_a_record_outside_its_keys_partition_goes_to_the_dlq() -> None:
    producer = _Partitioned()
    handlers = SchedulerHandlers(CourseSteps(
        TOPICS, producer, _table(producer, CoursePlan.model_validate_json),
        ContactPlanner(ContactPolicy(), WorkingDayCalendar()), ManualClock(AT)))
    asyncio.run(handlers.on_events([
        Record(TOPICS.sessions, encode_event(_valid()), b"c-1", 0, 0),
        Record(TOPICS.sessions, encode_event(_valid()), b"c-1", 2, 0)]))
    [dead] = producer.on(TOPICS.dlq("sessions"))
    assert "is in partition 0, but its key belongs in partition 2" in dead.headers["dlq.reason"]
    assert handlers.steps.plans.get("c-1") is not None  # the one in its own partition is applied


def test_the_referral_service_does_not_record_consent_outside_its_keys_partition() -> None:
    from services.referral.handlers import ReferralHandlers

    producer = _Partitioned()
    handlers = ReferralHandlers(TOPICS, producer, _table(producer, None),
                                _table(producer, None), ManualClock(AT))
    asyncio.run(handlers.on_courses_and_sessions([
        Record(TOPICS.sessions, encode_event(_valid()), b"c-1", 0, 0)]))
    assert producer.on(TOPICS.consents) == []


def test_the_referral_service_does_not_record_mis_keyed_or_future_consent() -> None:
    from services.referral.handlers import ReferralHandlers

    producer = FakeProducer()
    handlers = ReferralHandlers(TOPICS, producer, _table(producer, None),
                                _table(producer, None), ManualClock(AT))
    future = ConsentGiven(occurred_at=AT + timedelta(hours=1), course_id="c-1",
                          party="employee", scope="leader_contact")
    asyncio.run(handlers.on_courses_and_sessions([
        Record(TOPICS.sessions, encode_event(_valid()), b"c-9", 0, 0),
        Record(TOPICS.sessions, encode_event(future), b"c-1", 0, 1),
        Record(TOPICS.sessions, DEEP, b"c-1", 0, 2)]))
    assert producer.on(TOPICS.consents) == []


# --- the notifier ---------------------------------------------------------------------------

# Pia asked for each reminder on its own: these tests follow single messages.
PEOPLE = {"psy": Person(person_id="psy", name="Pia", email="pia@tidlig.dk", reminders="each"),
          "lead": Person(person_id="lead", name="Lars", email="lars@example.org")}


class FailingSender(RecordingSender):
    async def send(self, to: str, subject: str, body: str, notification_id: str,
                   parts: MailParts | None = None) -> str:
        raise PermanentFailure("550 " + "mailbox lars@example.org unknown; " * 100)


def _notifier(sender: RecordingSender | None = None) -> tuple[NotifierHandlers, FakeProducer,
                                                               RecordingSender]:
    producer = FakeProducer()
    consents: FakeView[ConsentState] = FakeView()
    sender = sender or RecordingSender(consents)
    handlers = NotifierHandlers(TOPICS, producer, _table(producer, LedgerEntry.model_validate_json),
                                FakeView(dict(PEOPLE)), consents, sender, RecordingSms(),
                                ManualClock(AT), NotifierSettings(),
                                members_of("c-1", psychologist_id="psy", leader_id="lead"))
    return handlers, producer, sender


def _reminder(n: int = 1) -> NotificationRequested:
    return NotificationRequested(occurred_at=AT, course_id="c-1", notification_id=f"c-1:n{n}",
                                 kind="contact_reminder", recipient_id="psy",
                                 recipient_role="psychologist", psychologist_id="psy",
                                 requires_consent="none")


@pytest.mark.parametrize("name", sorted(POISONS))
def test_a_poison_request_goes_to_the_dlq_and_the_next_request_is_sent(name: str) -> None:
    handlers, producer, sender = _notifier()
    asyncio.run(handlers.on_requests([
        Record(TOPICS.notifications_requested, POISONS[name], b"c-1", 0, 0),
        Record(TOPICS.notifications_requested, encode_event(_reminder()), b"c-1", 0, 1)]))
    assert len(producer.on(TOPICS.dlq("notifications.requested"))) == 1
    assert [n for n, _ in sender.sent] == ["c-1:n1"]


def test_a_long_provider_text_is_cut_and_redacted_and_settles_failed() -> None:
    handlers, producer, _ = _notifier(FailingSender(FakeView()))
    asyncio.run(handlers.on_requests([
        Record(TOPICS.notifications_requested, encode_event(_reminder()), b"c-1", 0, 0)]))
    [status] = [decode_event(s.value) for s in producer.on(TOPICS.notifications_status)]
    reason = status.reason  # type: ignore[attr-defined]
    assert status.type == "notification.failed" and len(reason) <= 200  # type: ignore[attr-defined]
    assert "lars@" not in reason and "[email]" in reason
    [dead] = producer.on(TOPICS.dlq("notifications.requested"))
    assert "lars@" not in dead.headers["dlq.reason"]


def test_a_kind_without_templates_settles_failed_and_goes_to_the_dlq(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = kinds_module.KINDS["contact_reminder"]
    monkeypatch.setitem(kinds_module.KINDS, "contact_reminder",
                        replace(spec, templates={}))
    handlers, producer, sender = _notifier()
    asyncio.run(handlers.on_requests([
        Record(TOPICS.notifications_requested, encode_event(_reminder()), b"c-1", 0, 0)]))
    [status] = [decode_event(s.value) for s in producer.on(TOPICS.notifications_status)]
    assert status.type == "notification.failed"  # type: ignore[attr-defined]
    assert "cannot render: KeyError" in status.reason  # type: ignore[attr-defined]
    assert len(producer.on(TOPICS.dlq("notifications.requested"))) == 1 and sender.sent == []


# --- views and state tables -----------------------------------------------------------------

def test_a_view_skips_and_counts_a_record_whose_decoder_raises_anything() -> None:
    from prometheus_client import REGISTRY

    from services.notifier.adapters.views import GlobalView

    class Consumer:
        calls = 0

        async def getmany(self, **_: Any) -> dict[str, list[Any]]:
            Consumer.calls += 1
            if Consumer.calls > 1:
                raise asyncio.CancelledError
            return {"tp": [Record("v", DEEP, b"a", 0, 0), Record("v", b"{}", b"b", 0, 1)]}

    def decode(raw: bytes) -> object:
        if raw == DEEP:
            return json.loads(raw)  # RecursionError
        return raw

    view: GlobalView[object] = GlobalView("v-topic", {}, decode)
    view._consumer = Consumer()  # type: ignore[assignment]
    before = REGISTRY.get_sample_value("lederkontakt_view_records_skipped_total",
                                       {"topic": "v-topic"}) or 0
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(view._tail())
    assert view.get("b") == b"{}" and view.get("a") is None
    assert REGISTRY.get_sample_value("lederkontakt_view_records_skipped_total",
                                     {"topic": "v-topic"}) == before + 1


# --- names and ids --------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "Anna 010203-1234", "Anna 0102031234", "Anna 010203\u20131234", "Anna 010203\u20111234",
    "Anna 01.02.03-1234", "Anna 010203/1234", "Anna 010203 - 1234", "Anna anna@example.org", "Anna\u202eLars",
    "An\u200bna", "Anna\u2028Lars", "Anna\u2029Lars", "\u2066Anna\u2069", "Anna\ufeff", "Anna\x00"])
def test_names_refuse_cpr_numbers_e_mails_and_invisible_characters(name: str) -> None:
    with pytest.raises(ValidationError):
        ReferredPerson(name=name, email="a@example.org")


@pytest.mark.parametrize("referral_id", ["0102031234", "r-010203-1234", "r 1", "r\n1", "r\x001",
                                         "r\u202e1"])
def test_referral_ids_are_strict_tokens_without_cpr_numbers(referral_id: str) -> None:
    with pytest.raises(ValidationError):
        referral(referral_id)


def test_ordinary_names_still_pass() -> None:
    for name in ("Åse Ødegård-Ærø", "Jean-Luc O'Neill", "Zoë Müller", "李小龍", "Anna 2. sal"):
        assert ReferredPerson(name=name, email="a@example.org").name == name
