"""After an erasure nothing more starts, runs or goes out about the erased person: every course
they are employee or leader in is cancelled, a referral naming them is refused, and the notifier
holds back whatever is asked in a course about them."""

from __future__ import annotations

import asyncio
from datetime import date

from services.notifier.domain.gate import decide
from services.notifier.domain.membership import CourseMembers, without_erased
from services.ops.erasure import courses_to_close
from services.referral.domain.intake import IntakeRecord, course_id_for, person_id_for
from services.referral.handlers import ReferralHandlers
from shared.events import (
    ConsentRecorded,
    CourseStarted,
    Person,
    ReferredPerson,
    RemindersChosen,
    decode_event,
    encode_event,
)
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record
from tests.samples import AT, referral
from tests.unit.test_notifier_rules import LEADER, MEMBERS, consented, request

TOPICS = Topics("p-")


def _start(course_id: str, employee: str, leader: str) -> CourseStarted:
    return CourseStarted(occurred_at=AT, course_id=course_id, referral_id=f"r-{course_id}",
                         employee_id=employee, leader_id=leader, psychologist_id="psy-1",
                         start_date=date(2026, 11, 26))


def test_erasure_closes_every_course_the_person_is_employee_or_leader_in_whatever_its_state() -> None:
    # The command reads the courses from `courses` itself: a course the scheduler has not
    # planned yet and one that ended long ago are there as well as the open ones.
    starts = [_start("c-b", "p-other", "p-x"), _start("c-a", "p-x", "p-lead"),
              _start("c-c", "p-other", "p-lead"), _start("c-a", "p-x", "p-lead")]
    assert courses_to_close(starts, "p-x") == ["c-a", "c-b"]
    assert courses_to_close(starts, "psy-1") == []  # staff: the course goes on


def _handlers(erased: set[str], people: dict[str, Person] | None = None,
              ) -> tuple[ReferralHandlers, FakeProducer]:
    producer = FakeProducer()
    intake: ChangelogTable[IntakeRecord] = ChangelogTable(
        "dedup", {}, producer, encode=lambda r: r.model_dump_json().encode(),
        decode=IntakeRecord.model_validate_json)
    consents: ChangelogTable[ConsentRecorded] = ChangelogTable(
        "consents", {}, producer, encode=encode_event, decode=ConsentRecorded.model_validate_json)
    intake.ready.set()
    consents.ready.set()
    view: FakeView[bool] = FakeView({person: True for person in erased})
    return ReferralHandlers(TOPICS, producer, intake, consents, people=FakeView(people or {}),
                            erased=view), producer


def test_a_referral_naming_an_erased_person_is_dropped_and_keeps_nothing_of_them() -> None:
    named = referral("r-late")
    others = referral("r-other",
                      employee=ReferredPerson(name="Otto Other", email="otto@example.org"),
                      leader=ReferredPerson(name="Lise Leder", email="lise@example.org"))
    for erased in (person_id_for(named.employee), person_id_for(named.leader)):
        handlers, producer = _handlers({erased})
        asyncio.run(handlers.on_referrals([
            Record(TOPICS.referrals, encode_event(named), b"r-late", 0, 0),
            Record(TOPICS.referrals, encode_event(others), b"r-other", 0, 1)]))
        # No course, none of their details, and no dead letter that would keep the referral;
        # its course id is cancelled, so facts derived from the referral alone go too.
        courses = [decode_event(s.value or b"") for s in producer.on(TOPICS.courses)]
        assert [(type(e).__name__, e.course_id) for e in courses] == [
            ("CourseCancelled", course_id_for("r-late")), ("CourseStarted", course_id_for("r-other"))]
        assert producer.on(TOPICS.dlq("referrals")) == []
        sent = b"".join(s.value or b"" for s in producer.sent)
        assert b"emma@example.org" not in sent and b"lars@example.org" not in sent
        assert b"otto@example.org" in sent


def test_a_choice_of_reminders_by_an_erased_person_writes_nothing() -> None:
    # Also while their record is still in the view (its tombstone not read yet).
    handlers, producer = _handlers({"psy-9"}, {"psy-9": Person(person_id="psy-9", name="Pia",
                                                               email="pia@tidlig.dk")})
    chosen = RemindersChosen(occurred_at=AT, person_id="psy-9", name="Pia", reminders="each",
                             email="pia@tidlig.dk")
    asyncio.run(handlers.on_referrals([Record(TOPICS.referrals, encode_event(chosen), b"psy-9",
                                              0, 0)]))
    assert producer.on(TOPICS.people) == []


def test_nothing_goes_out_in_a_course_whose_employee_or_leader_was_erased_before_its_cancellation(
) -> None:
    for erased in ("e", "l"):
        members = without_erased(MEMBERS, lambda person, gone=erased: person == gone)
        assert isinstance(members, CourseMembers) and members.closed_by_erasure
        assert decide(request(), LEADER, consented(True), members).reason == "not_in_role"
    # The erasure of a member of staff leaves the course to the others.
    assert without_erased(MEMBERS, lambda person: person == "p") == MEMBERS
    assert decide(request(), LEADER, consented(True),
                  without_erased(MEMBERS, lambda person: False)).allowed


def test_a_morning_digest_says_nothing_of_a_course_whose_employee_was_erased() -> None:
    from services.notifier.config import NotifierSettings
    from services.notifier.digests import DigestSender
    from services.notifier.domain.digest import CourseContacts, OpenPoint
    from services.notifier.handlers import NotifierHandlers
    from shared.calendar import WorkingDayCalendar
    from shared.clock import ManualClock
    from tests.fakes import RecordingSender, RecordingSms

    point = OpenPoint("start_call", "start_call", date(2026, 11, 26), date(2026, 11, 30), False)
    plans = FakeView({c: CourseContacts(c, "psy-1", None, (point,)) for c in ("c-e", "c-o")})
    members = FakeView({"c-e": CourseMembers(started=True, employee_id="p-x", leader_id="l",
                                             psychologist_id="psy-1"),
                        "c-o": CourseMembers(started=True, employee_id="e", leader_id="l",
                                             psychologist_id="psy-1")})
    handlers = NotifierHandlers(
        TOPICS, FakeProducer(), None, FakeView(), FakeView(),  # type: ignore[arg-type]
        RecordingSender(FakeView()), RecordingSms(), ManualClock(AT), NotifierSettings(),
        members, erased=FakeView({"p-x": True}))
    sender = DigestSender(handlers, plans, WorkingDayCalendar())  # type: ignore[arg-type]
    assert [c.course_id for c in sender._held(["c-e", "c-o"])] == ["c-o"]


class _ErasedMidBatch(FakeView[bool]):
    """Nobody is erased when the batch is read; the person is by the time it is written."""

    def __init__(self, person_id: str) -> None:
        super().__init__({})
        self.person_id = person_id
        self.catch_ups = 0

    async def catch_up(self) -> None:
        self.catch_ups += 1
        if self.catch_ups > 1:
            self.values[self.person_id] = True


def test_a_person_erased_while_a_referral_naming_them_is_decided_is_tombstoned_again() -> None:
    # The erase command's tombstone and its reading of `courses` may come before this batch's
    # writes: the batch itself then takes back what it wrote about them.
    named = referral("r-race")
    employee = person_id_for(named.employee)
    handlers, producer = _handlers(set())
    handlers.erased = _ErasedMidBatch(employee)
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(named), b"r-race", 0, 0)]))
    theirs = [s.value for s in producer.on(TOPICS.people) if s.key == employee]
    assert b"person.upserted" in (theirs[0] or b"")  # written by the batch ...
    assert b"person.erased" in (theirs[-2] or b"") and theirs[-1] is None  # ... then taken back
    courses = [decode_event(s.value or b"") for s in producer.on(TOPICS.courses)]
    assert [(type(e).__name__, e.course_id) for e in courses] == [
        ("CourseStarted", course_id_for("r-race")), ("CourseCancelled", course_id_for("r-race"))]
    assert courses[1].reason == "person_erased"  # type: ignore[attr-defined]
