"""Who holds which role in a course reaches the notifier on the course's `consents` record,
which the referral service writes from the course's own events; a request that follows from a
course event a moment before its record is written waits for it, a forged one is refused."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.domain.membership import may_be_on_its_way
from services.notifier.handlers import NotifierHandlers
from services.referral.handlers import ReferralHandlers
from shared.clock import ManualClock
from shared.events import (
    ConsentGiven,
    CourseCancelled,
    CourseEnded,
    CourseMembers,
    CourseStarted,
    Event,
    PsychologistAssigned,
    encode_event,
)
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, ready_table
from tests.unit.test_closed_course_retention import _referral_handlers
from tests.unit.test_notifier_rules import AT, LEADER, MEMBERS, PSY, consented, request

TOPICS = Topics("p-")
NOW = AT + timedelta(days=1)  # the events are read a day after they happened
START = CourseStarted(occurred_at=AT, course_id="c-1", referral_id="r-1", employee_id="e",
                      leader_id="l", psychologist_id="p", team_lead_id="t",
                      start_date=date(2026, 11, 26))


def _referral() -> tuple[ReferralHandlers, FakeProducer]:
    producer = FakeProducer()
    return _referral_handlers(producer, ManualClock(NOW)), producer


def _apply(handlers: ReferralHandlers, *events: Event) -> None:
    asyncio.run(handlers.on_courses_and_sessions([
        Record(TOPICS.courses if isinstance(e, CourseStarted | CourseCancelled)
               else TOPICS.sessions, encode_event(e), b"c-1", 0, n)
        for n, e in enumerate(events)]))


def test_the_consents_record_names_the_courses_people_as_its_own_events_do() -> None:
    handlers, producer = _referral()
    later = AT + timedelta(hours=1)
    given = ConsentGiven(occurred_at=AT, course_id="c-1", party="employee",
                         scope="leader_contact")
    assigned = PsychologistAssigned(occurred_at=later, course_id="c-1", psychologist_id="p2")
    _apply(handlers, START, given, assigned, assigned)
    record = handlers.consents.get("c-1")
    assert record is not None and record.state.allows_leader_contact
    assert record.members == CourseMembers(started=True, employee_id="e", leader_id="l",
                                           psychologist_id="p2", team_lead_id="t",
                                           assigned_at=later)
    assert record.closed_at is None
    written = len(producer.on(TOPICS.consents))
    _apply(handlers, assigned)  # a repeat changes nothing and writes nothing
    assert len(producer.on(TOPICS.consents)) == written


def test_a_course_closed_at_an_erasure_or_ended_is_closed_on_its_record() -> None:
    handlers, _ = _referral()
    _apply(handlers, START, CourseCancelled(occurred_at=AT, course_id="c-1",
                                            reason="person_erased"))
    record = handlers.consents.get("c-1")
    assert record is not None and record.members is not None
    assert record.members.closed_by_erasure and record.closed_at == NOW
    assert not record.members.holds("l", "leader")
    handlers, _ = _referral()
    _apply(handlers, START, CourseEnded(occurred_at=AT, course_id="c-1",
                                        end_date=date(2026, 11, 27)))
    ended = handlers.consents.get("c-1")
    # An ended course keeps its people: its end contact is still to be made.
    assert ended is not None and ended.closed_at == NOW and ended.members is not None
    assert ended.members.holds("l", "leader")


def test_an_assignment_read_before_the_start_is_kept_on_the_record() -> None:
    handlers, _ = _referral()
    assigned = PsychologistAssigned(occurred_at=AT + timedelta(hours=1), course_id="c-1",
                                    psychologist_id="p2")
    _apply(handlers, assigned, START)
    record = handlers.consents.get("c-1")
    assert record is not None and record.members is not None
    assert record.members.started and record.members.psychologist_id == "p2"


def test_a_request_waits_only_for_what_can_still_come() -> None:
    receipt = request("referral_receipt", requires="none")
    assert may_be_on_its_way(receipt, None)  # the course is not on record yet
    reminder = request("contact_reminder", "psychologist", "none").model_copy(
        update={"recipient_id": "p2"})
    assert may_be_on_its_way(reminder, MEMBERS)  # a new psychologist may be coming
    forged = reminder.model_copy(update={"recipient_id": "l"})
    assert not may_be_on_its_way(forged, MEMBERS)  # the leader is never the psychologist
    # A leader is named at the start, once.
    assert not may_be_on_its_way(receipt.model_copy(update={"recipient_id": "x"}), MEMBERS)
    closed = MEMBERS.model_copy(update={"closed_by_erasure": True})
    assert not may_be_on_its_way(reminder, closed)
    # Closed at an erasure before it started: nothing more comes to its record.
    never_started = CourseMembers(closed_by_erasure=True)
    assert not may_be_on_its_way(receipt, never_started)


def _notifier(members: FakeView[CourseMembers], wait: float) -> tuple[NotifierHandlers,
                                                                      RecordingSender]:
    producer = FakeProducer()
    ledger = ready_table("ledger", producer, LedgerEntry)
    consents = FakeView({"c-abc123": consented(True)})
    sender = RecordingSender(consents)
    people = FakeView({"l": LEADER, "p": PSY, "x": PSY.model_copy(update={"person_id": "x"})})
    handlers = NotifierHandlers(
        TOPICS, producer, ledger, people, consents, sender, RecordingSms(), ManualClock(AT),
        NotifierSettings(membership_wait_seconds=wait), members)
    return handlers, sender


def _read(nid: str, written_ago: float = 0.0) -> Record:
    """A request's record as read from the topic, written `written_ago` seconds ago."""
    return Record(TOPICS.notifications_requested, None, nid.encode(),
                  timestamp=int((time.time() - written_ago) * 1000))


def test_a_receipt_read_before_its_courses_record_waits_for_it_and_goes_out() -> None:
    members: FakeView[CourseMembers] = FakeView()
    handlers, sender = _notifier(members, wait=5.0)

    async def run() -> None:
        attempt = asyncio.create_task(handlers.attempt(
            request("referral_receipt", requires="none"), 0, attempts=0, source=_read("n")))
        await asyncio.sleep(0.3)
        members.values["c-abc123"] = MEMBERS  # the referral service's record arrives
        await attempt

    asyncio.run(run())
    assert [nid for nid, _ in sender.sent] == ["n"]


def test_a_request_naming_someone_the_record_does_not_show_leaves_its_slot_after_the_wait(
) -> None:
    forged = request("contact_reminder", "psychologist", "none").model_copy(
        update={"recipient_id": "x"})
    for written_ago, waited in ((0.0, (0.4, 3.0)), (60.0, (0.0, 0.3))):
        handlers, sender = _notifier(FakeView({"c-abc123": MEMBERS}), wait=0.5)
        began = time.monotonic()
        asyncio.run(handlers.attempt(forged, 0, attempts=0, source=_read("n", written_ago)))
        entry = handlers.ledger.get("n")
        # Parked, to be looked at again until the horizon (tests/unit/test_awaiting_members.py).
        assert entry is not None and (entry.state, entry.reason) == ("deferred",
                                                                     "awaiting_members")
        # A request written a minute ago leaves its slot at once: its course had the time.
        assert waited[0] <= time.monotonic() - began < waited[1] and sender.sent == []
