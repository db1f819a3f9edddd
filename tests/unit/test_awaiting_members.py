"""A request naming a role its course's record may still get waits a moment in its slot; then it
is parked in the ledger, not held in a slot, and each later look runs the whole gate again, until
the horizon: members that arrive late still let it out, an erasure or a withdrawn consent still
stops it, and a role that never comes is refused once the horizon is reached."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.notifier import handlers as notifier_handlers
from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.domain.membership import next_look
from services.notifier.handlers import NotifierHandlers
from shared.clock import ManualClock
from shared.events import (
    CourseMembers,
    NotificationRequested,
    decode_event,
)
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, ready_table
from tests.unit.test_notifier_rules import AT, LEADER, MEMBERS, PSY, consented, request

TOPICS = Topics("p-")
COURSE = "c-abc123"
RECEIPT = request("referral_receipt", requires="none")
CALL_COMING = request("leader_call_coming")  # needs the employee's consent


class Notifier:
    """The notifier's handlers over in-memory views, on a clock the test moves."""

    def __init__(self, wait: float = 0.2, retry: float = 5.0, horizon: float = 60.0) -> None:
        self.clock = ManualClock(AT)
        self.producer = FakeProducer()
        self.members: FakeView[CourseMembers] = FakeView()
        self.consents = FakeView({COURSE: consented(True)})
        self.people = FakeView({"l": LEADER, "p": PSY})
        self.erased: FakeView[object] = FakeView()
        self.sender = RecordingSender(self.consents)
        self.handlers = NotifierHandlers(
            TOPICS, self.producer, ready_table("ledger", self.producer, LedgerEntry),
            self.people, self.consents, self.sender, RecordingSms(), self.clock,
            NotifierSettings(membership_wait_seconds=wait, membership_retry_seconds=retry,
                             membership_horizon_seconds=horizon),
            self.members, erased=self.erased)

    def read(self, req: NotificationRequested) -> None:
        """The request read from the topic just after it was written."""
        record = Record(TOPICS.notifications_requested, None, b"n",
                        timestamp=int(time.time() * 1000))
        asyncio.run(self.handlers.attempt(req, 0, attempts=0, source=record))

    def tick_at(self, seconds: float) -> int:
        self.clock.at = AT + timedelta(seconds=seconds)
        return asyncio.run(self.handlers.tick())

    def entry(self) -> LedgerEntry:
        entry = self.handlers.ledger.get("n")
        assert entry is not None
        return entry

    def statuses(self) -> list[tuple[str, str | None]]:
        events = [decode_event(s.value) for s in self.producer.on(TOPICS.notifications_status)
                  if s.value is not None]
        return [(e.type.removeprefix("notification."), getattr(e, "reason", None))
                for e in events]


def test_the_pause_between_looks_doubles_and_the_last_look_falls_on_the_horizon() -> None:
    since, horizon, first = AT, timedelta(hours=1), timedelta(seconds=5)
    looks: list[datetime] = []
    now = since
    while (again := next_look(since, now, horizon, first)) is not None:
        looks.append(again)
        now = again
    pauses = [(b - a).total_seconds() for a, b in zip([since, *looks], looks, strict=False)]
    assert pauses[:5] == [5, 5, 10, 20, 40]
    assert max(pauses) == 300  # five minutes at most
    assert looks[-1] == since + horizon and len(looks) < 20
    assert next_look(since, since + horizon, horizon, first) is None


def test_a_request_whose_course_is_not_on_record_waits_a_moment_then_is_parked() -> None:
    notifier = Notifier(wait=0.3)
    began = time.monotonic()
    notifier.read(RECEIPT)
    # Waited in its slot for the short wait only, then parked for a later look.
    assert 0.25 <= time.monotonic() - began < 3.0
    entry = notifier.entry()
    assert (entry.state, entry.reason) == ("deferred", "awaiting_members")
    assert entry.awaiting_members_since == AT and entry.due_at == AT + timedelta(seconds=5)
    assert entry.request == RECEIPT and notifier.sender.sent == []
    assert notifier.statuses() == [("deferred", "awaiting_members")]


def test_a_request_whose_members_come_within_the_wait_goes_out_without_parking() -> None:
    notifier = Notifier(wait=5.0)

    async def run() -> None:
        record = Record(TOPICS.notifications_requested, None, b"n",
                        timestamp=int(time.time() * 1000))
        attempt = asyncio.create_task(notifier.handlers.attempt(RECEIPT, 0, 0, source=record))
        await asyncio.sleep(0.2)
        notifier.members.values[COURSE] = MEMBERS
        await attempt

    asyncio.run(run())
    assert [nid for nid, _ in notifier.sender.sent] == ["n"]
    assert notifier.statuses() == [("sent", None)]


def test_a_parked_request_goes_out_at_the_first_look_after_its_members_arrive() -> None:
    notifier = Notifier()
    notifier.read(RECEIPT)
    assert notifier.tick_at(4) == 0  # not yet due
    assert notifier.tick_at(5) == 1  # looked at: still no members, parked again, not reported
    entry = notifier.entry()
    assert entry.state == "deferred" and entry.due_at == AT + timedelta(seconds=10)
    assert entry.awaiting_members_since == AT and notifier.sender.sent == []
    notifier.members.values[COURSE] = MEMBERS
    notifier.tick_at(10)
    assert [nid for nid, _ in notifier.sender.sent] == ["n"]
    assert notifier.entry().state == "sent" and notifier.entry().request is None
    assert notifier.statuses() == [("deferred", "awaiting_members"), ("sent", None)]


def test_a_request_whose_role_never_comes_is_refused_at_the_horizon() -> None:
    notifier = Notifier(retry=5.0, horizon=30.0)
    notifier.read(RECEIPT)
    for at in (5, 10, 20):
        notifier.tick_at(at)
        assert notifier.entry().state == "deferred"
    notifier.tick_at(30)
    entry = notifier.entry()
    assert (entry.state, entry.reason) == ("suppressed", "not_in_role")
    assert entry.request is None and notifier.sender.sent == []
    assert notifier.statuses() == [("deferred", "awaiting_members"), ("suppressed", "not_in_role")]


def test_each_look_runs_the_whole_gate_as_for_a_request_read_from_the_topic(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    plan = notifier_handlers.plan_delivery

    def recorded(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["own"])
        return plan(*args, **kwargs)

    monkeypatch.setattr(notifier_handlers, "plan_delivery", recorded)
    notifier = Notifier(wait=0.0)
    notifier.read(RECEIPT)
    notifier.tick_at(5)
    notifier.members.values[COURSE] = MEMBERS
    notifier.tick_at(10)
    assert notifier.entry().state == "sent"
    # Never as a request the gate already let through.
    assert seen and not any(seen)


def test_a_role_given_to_someone_else_meanwhile_is_refused_at_the_next_look() -> None:
    notifier = Notifier()
    notifier.read(RECEIPT)
    notifier.members.values[COURSE] = MEMBERS.model_copy(update={"leader_id": "l2"})
    notifier.tick_at(5)
    entry = notifier.entry()
    # The leader is named once, at the start: nothing more can come for "l".
    assert (entry.state, entry.reason) == ("suppressed", "not_in_role")
    assert notifier.sender.sent == []


@pytest.mark.parametrize("erased", ["l", "e"])
def test_an_erasure_while_parked_sends_nothing_when_the_members_arrive(erased: str) -> None:
    notifier = Notifier()
    notifier.read(RECEIPT)
    notifier.erased.values[erased] = True
    if erased == "l":
        del notifier.people.values["l"]  # the recipient's tombstone
    notifier.members.values[COURSE] = MEMBERS
    notifier.tick_at(5)
    entry = notifier.entry()
    assert entry.terminal and entry.state == "suppressed" and entry.request is None
    assert notifier.sender.sent == []


def test_consent_withdrawn_while_parked_sends_nothing_when_the_members_arrive() -> None:
    notifier = Notifier()
    notifier.read(CALL_COMING)
    notifier.consents.values[COURSE] = consented(False)  # withdrawn meanwhile
    notifier.members.values[COURSE] = MEMBERS
    notifier.tick_at(5)
    entry = notifier.entry()
    assert (entry.state, entry.reason) == ("suppressed", "no_consent_to_leader_contact")
    assert notifier.sender.sent == []


def test_a_request_let_through_before_that_lost_its_role_is_not_parked_for_members() -> None:
    notifier = Notifier()
    sms_psychologist = PSY.model_copy(update={"preferred_channel": "sms", "reminders": "each"})
    notifier.people.values["p"] = sms_psychologist
    notifier.members.values[COURSE] = MEMBERS
    reminder = request("contact_reminder", "psychologist", "none")
    notifier.clock.at = AT.replace(hour=22)  # quiet hours: the SMS is parked till morning
    notifier.read(reminder)
    assert notifier.entry().reason == "quiet_hours"
    due = notifier.entry().due_at
    assert due is not None
    # Reassigned overnight: the reminder is not for "p" any more.
    notifier.members.values[COURSE] = MEMBERS.model_copy(update={"psychologist_id": "p2"})
    notifier.clock.at = due
    asyncio.run(notifier.handlers.tick())
    entry = notifier.entry()
    assert (entry.state, entry.reason) == ("suppressed", "not_in_role")


def test_what_another_member_settled_during_the_wait_is_not_written_over() -> None:
    """The partition's next owner sent the request while this member was still waiting for its
    members: the refusal or park this member comes to afterwards is not written."""
    notifier = Notifier(wait=0.3)

    async def both() -> None:
        async def next_owner() -> None:
            await asyncio.sleep(0.1)
            await notifier.handlers.ledger.put("n", LedgerEntry(
                notification_id="n", state="sent", channel="email", attempts=0), 0)
        record = Record(TOPICS.notifications_requested, None, b"n",
                        timestamp=int(time.time() * 1000))
        await asyncio.gather(notifier.handlers.attempt(RECEIPT, 0, attempts=0, source=record),
                             next_owner())

    asyncio.run(both())
    assert notifier.entry().state == "sent"
    assert notifier.statuses() == []
