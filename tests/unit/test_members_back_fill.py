"""A course's `consents` record written before the members were kept on it gets them from the
course's own events (`courses` and `sessions` keep them), once per rebuild of the table, so its
messages are not refused not_in_role for good."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from typing import Any

from services.referral.domain.staff import StaffDirectory, StaffMember
from services.referral.handlers import ReferralHandlers
from shared.clock import ManualClock
from shared.events import (
    ConsentGiven,
    ConsentRecorded,
    ConsentState,
    CourseMembers,
    CourseStarted,
    Event,
    PsychologistAssigned,
    encode_event,
)
from shared.topics import Topics
from tests.fakes import FakeProducer, Record
from tests.unit.test_closed_course_retention import _referral_handlers
from tests.unit.test_notifier_rules import AT

TOPICS = Topics("p-")
NOW = AT + timedelta(days=30)
START = CourseStarted(occurred_at=AT, course_id="c-1", referral_id="r-1", employee_id="e",
                      leader_id="l", psychologist_id="p", team_lead_id="t",
                      start_date=date(2026, 11, 26))
LATER = AT + timedelta(days=3)
ASSIGNED = PsychologistAssigned(occurred_at=LATER, course_id="c-1", psychologist_id="p2")


def _record(course_id: str, members: CourseMembers | None = None) -> ConsentRecorded:
    """A record as written before the members were kept on it (consent only)."""
    return ConsentRecorded(occurred_at=AT, course_id=course_id, members=members,
                           state=ConsentState())


class History:
    """The `courses` and `sessions` records of a partition, as read from the beginning."""

    def __init__(self, *events: tuple[Event, bytes | None]) -> None:
        self.records = [Record(TOPICS.courses if isinstance(e, CourseStarted) else TOPICS.sessions,
                               encode_event(e), key, 0, n) for n, (e, key) in enumerate(events)]
        self.reads: list[list[int]] = []

    async def __call__(self, partitions: list[int]) -> AsyncIterator[Sequence[Any]]:
        self.reads.append(partitions)
        yield self.records


def _handlers(*records: ConsentRecorded) -> tuple[ReferralHandlers, FakeProducer]:
    producer = FakeProducer()
    handlers = _referral_handlers(producer, ManualClock(NOW))
    handlers.consents.remember([(r.course_id, r, 0) for r in records if r.course_id])
    return handlers, producer


def test_a_record_without_members_gets_them_from_the_courses_events() -> None:
    handlers, producer = _handlers(_record("c-1"), _record("c-2"))
    given = ConsentGiven(occurred_at=AT, course_id="c-1", party="employee",
                         scope="leader_contact")
    history = History((START, b"c-1"), (given, b"c-1"), (ASSIGNED, b"c-1"))
    assert asyncio.run(handlers.back_fill_members(history)) == 1
    record = handlers.consents.get("c-1")
    assert record is not None and record.members == CourseMembers(
        started=True, employee_id="e", leader_id="l", psychologist_id="p2", team_lead_id="t",
        assigned_at=LATER)
    [written] = producer.on(TOPICS.consents)
    assert written.key == "c-1" and written.partition == 0
    # Once per rebuild of the table: nothing is read again until the next one.
    assert asyncio.run(handlers.back_fill_members(history)) == 0 and len(history.reads) == 1
    handlers.consents.generation += 1
    assert asyncio.run(handlers.back_fill_members(history)) == 0 and len(history.reads) == 2


def test_a_record_that_read_only_an_assignment_since_gets_its_start() -> None:
    assigned_only = CourseMembers(psychologist_id="p2", assigned_at=LATER)
    handlers, _ = _handlers(_record("c-1", assigned_only))
    asyncio.run(handlers.back_fill_members(History((START, b"c-1"), (ASSIGNED, b"c-1"))))
    record = handlers.consents.get("c-1")
    assert record is not None and record.members is not None
    assert record.members.started and record.members.holds("l", "leader")
    assert record.members.psychologist_id == "p2"


def test_a_mis_keyed_start_in_the_history_names_no_one() -> None:
    handlers, _ = _handlers(_record("c-1"))
    asyncio.run(handlers.back_fill_members(History((START, b"c-other"))))
    record = handlers.consents.get("c-1")
    assert record is not None and (record.members is None or not record.members.started)


def test_nothing_is_read_while_every_record_has_its_start() -> None:
    started = CourseMembers(started=True, employee_id="e", leader_id="l")
    handlers, producer = _handlers(_record("c-1", started))
    history = History((START, b"c-1"))
    assert asyncio.run(handlers.back_fill_members(history)) == 0
    assert history.reads == [] and producer.on(TOPICS.consents) == []


def test_an_assignment_the_staff_directory_refuses_is_passed_over() -> None:
    handlers, _ = _handlers(_record("c-1"))
    handlers.staff = StaffDirectory(email_domains=frozenset({"tidlig.dk"}), staff=(
        StaffMember(id="p", name="Pia", email="pia@tidlig.dk", roles=frozenset({"psychologist"})),))
    asyncio.run(handlers.back_fill_members(History((START, b"c-1"), (ASSIGNED, b"c-1"))))
    record = handlers.consents.get("c-1")
    # p2 is not in the directory: the course keeps the psychologist its start named.
    assert record is not None and record.members is not None
    assert record.members.started and record.members.psychologist_id == "p"


class BusyHistory(History):
    """A history read during which the consent group works: the consent lock is free, and the
    group changes c-1's record once."""

    def __init__(self, handlers: ReferralHandlers, *events: tuple[Event, bytes | None]) -> None:
        super().__init__(*events)
        self.handlers = handlers
        self.lock_free: list[bool] = []

    async def __call__(self, partitions: list[int]) -> AsyncIterator[Sequence[Any]]:
        self.lock_free.append(not self.handlers.consent_lock.locked())
        if len(self.reads) == 0:
            meanwhile = _record("c-1", CourseMembers(psychologist_id="p2", assigned_at=LATER))
            self.handlers.consents.remember([("c-1", meanwhile, 0)])
        async for records in super().__call__(partitions):
            yield records


def test_the_history_is_read_without_the_consent_lock_and_a_record_changed_meanwhile_waits(
) -> None:
    handlers, producer = _handlers(_record("c-1"))
    history = BusyHistory(handlers, (START, b"c-1"), (ASSIGNED, b"c-1"))
    assert asyncio.run(handlers.back_fill_members(history)) == 0
    assert history.lock_free == [True]
    record = handlers.consents.get("c-1")
    assert record is not None and record.members == CourseMembers(
        psychologist_id="p2", assigned_at=LATER)  # the group's change is not written over
    assert producer.on(TOPICS.consents) == []
    # The next round, with nothing changing meanwhile, gives it its start.
    assert asyncio.run(handlers.back_fill_members(history)) == 1
    record = handlers.consents.get("c-1")
    assert record is not None and record.members is not None and record.members.started
