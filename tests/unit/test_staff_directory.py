"""Psychologists and team leads are who the staff directory says, not who a referral says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.referral.config import ReferralSettings
from services.referral.domain.staff import StaffDirectory, resolve_staff
from shared.clock import ManualClock
from shared.events import ReferredPerson, encode_event
from tests.fakes import FakeProducer, Record
from tests.samples import referral
from tests.unit.test_referral_handler_properties import TOPICS, _handlers

TEAM = """
email_domains = ["tidlig.dk"]

[[staff]]
id = "psy-1"
name = "Pia Psykolog"
email = "pia@tidlig.dk"
phone = "+4520304050"
roles = ["psychologist"]

[[staff]]
id = "lead-1"
name = "Tove Teamleder"
email = "tove@tidlig.dk"
roles = ["team_lead"]
"""


@pytest.fixture
def directory(tmp_path: Path) -> StaffDirectory:
    path = tmp_path / "staff.toml"
    path.write_text(TEAM)
    staff = ReferralSettings(staff_file=path).staff()
    assert staff is not None
    return staff


def test_a_known_psychologist_is_taken_from_the_directory_not_the_referral(
    directory: StaffDirectory,
) -> None:
    forged = ReferredPerson(person_id="psy-1", name="Pia Psykolog", email="attacker@example.org")
    resolved = resolve_staff(referral(psychologist=forged), directory)
    assert not isinstance(resolved, str)
    assert resolved.psychologist is not None and resolved.psychologist.email == "pia@tidlig.dk"


def test_staff_named_by_e_mail_are_found_by_e_mail(directory: StaffDirectory) -> None:
    by_mail = ReferredPerson(name="Tove", email="TOVE@tidlig.dk")
    resolved = resolve_staff(referral(team_lead=by_mail), directory)
    assert not isinstance(resolved, str)
    assert resolved.team_lead is not None and resolved.team_lead.person_id == "lead-1"


def test_an_unknown_psychologist_or_one_in_the_wrong_role_is_refused(
    directory: StaffDirectory,
) -> None:
    stranger = ReferredPerson(person_id="psy-9", name="X", email="x@tidlig.dk")
    assert resolve_staff(referral(psychologist=stranger), directory) == (
        "unknown staff: no psychologist with id psy-9 in the staff directory")
    lead_as_psy = ReferredPerson(person_id="lead-1", name="Tove", email="tove@tidlig.dk")
    assert isinstance(resolve_staff(referral(psychologist=lead_as_psy), directory), str)


def test_a_directory_with_an_e_mail_outside_the_domain_is_refused() -> None:
    with pytest.raises(ValidationError, match="outside"):
        StaffDirectory.model_validate({"email_domains": ["tidlig.dk"], "staff": [
            {"id": "psy-1", "name": "P", "email": "p@gmail.com", "roles": ["psychologist"]}]})


def test_a_referral_naming_an_unknown_staff_member_goes_to_the_dlq_with_the_reason(
    directory: StaffDirectory,
) -> None:
    handlers, producer = _handlers()
    handlers.staff = directory
    stranger = ReferredPerson(person_id="psy-9", name="X", email="x@tidlig.dk")
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(referral("r-bad", psychologist=stranger)), b"r-bad",
               0, 0),
        Record(TOPICS.referrals, encode_event(referral("r-good")), b"r-good", 0, 1)]))
    [dead] = producer.on(TOPICS.dlq("referrals"))
    assert dead.headers["dlq.reason"].startswith("unknown staff: no psychologist")
    assert len(producer.on(TOPICS.courses)) == 1


def test_a_staff_id_or_e_mail_given_for_the_employee_or_leader_keeps_the_directorys_details(
    directory: StaffDirectory,
) -> None:
    # Otherwise the referral's contact details would overwrite the member's record on people,
    # and their reminders would go to whoever wrote the referral.
    by_id = ReferredPerson(person_id="psy-1", name="Mallory", email="mallory@evil.example")
    by_mail = ReferredPerson(name="Mallory", email="TOVE@tidlig.dk", phone="+4599999999")
    resolved = resolve_staff(referral(leader=by_id, psychologist=None), directory)
    assert not isinstance(resolved, str)
    assert (resolved.leader.person_id, resolved.leader.email) == ("psy-1", "pia@tidlig.dk")
    resolved = resolve_staff(referral(employee=by_mail), directory)
    assert not isinstance(resolved, str)
    assert (resolved.employee.person_id, resolved.employee.phone) == ("lead-1", None)


def test_a_referral_naming_an_erased_person_and_an_unknown_psychologist_keeps_no_dead_letter(
    directory: StaffDirectory,
) -> None:
    # The dead letter of the staff check would keep the erased person's details for as long
    # as the DLQ keeps anything; the erasure is looked at first.
    from services.referral.domain.intake import course_id_for, person_id_for
    from tests.fakes import FakeView

    handlers, producer = _handlers()
    handlers.staff = directory
    late = referral("r-late", psychologist=ReferredPerson(person_id="psy-9", name="X",
                                                          email="x@tidlig.dk"))
    handlers.erased = FakeView({person_id_for(late.employee): True})
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(late), b"r-late", 0, 0)]))
    assert producer.on(TOPICS.dlq("referrals")) == []
    [cancelled] = producer.on(TOPICS.courses)
    assert b"course.cancelled" in (cancelled.value or b"")
    assert cancelled.key == course_id_for("r-late")


def _assign(directory: StaffDirectory | None,
            *psychologists: str) -> tuple[str | None, FakeProducer]:
    """A course started with psy-1, then assigned each of `psychologists` in turn."""
    from datetime import date, timedelta

    from shared.events import CourseStarted, PsychologistAssigned
    from tests.unit.test_course_members import AT, NOW

    handlers, producer = _handlers()
    handlers.clock = ManualClock(NOW)
    handlers.staff = directory
    start = CourseStarted(occurred_at=AT, course_id="c-1", referral_id="r-1", employee_id="e",
                          leader_id="l", psychologist_id="psy-1", team_lead_id="lead-1",
                          start_date=date(2026, 11, 26))
    records = [Record(TOPICS.courses, encode_event(start), b"c-1", 0, 0)]
    for n, psychologist in enumerate(psychologists, start=1):
        assigned = PsychologistAssigned(occurred_at=AT + timedelta(minutes=n), course_id="c-1",
                                        psychologist_id=psychologist)
        records.append(Record(TOPICS.sessions, encode_event(assigned), b"c-1", 0, n))
    asyncio.run(handlers.on_courses_and_sessions(records))
    record = handlers.consents.get("c-1")
    assert record is not None and record.members is not None
    return record.members.psychologist_id, producer


def test_a_course_is_not_given_a_psychologist_the_directory_does_not_know(
    directory: StaffDirectory,
) -> None:
    # Whoever may write `sessions` would otherwise make anyone on `people` the course's
    # psychologist: its reminders and digest lines, and named to the leader with their phone.
    psychologist, producer = _assign(directory, "mallory", "lead-1")
    assert psychologist == "psy-1"
    dead = producer.on(TOPICS.dlq("sessions"))
    assert [d.headers["dlq.reason"] for d in dead] == [
        "unknown staff: no psychologist with id mallory in the staff directory",
        "unknown staff: no psychologist with id lead-1 in the staff directory"]


def test_a_psychologist_in_the_directory_takes_the_course_and_without_one_anyone_does(
    directory: StaffDirectory, tmp_path: Path,
) -> None:
    path = tmp_path / "more.toml"
    path.write_text(TEAM.replace('"psy-1"', '"psy-2"', 1).replace("pia@", "per@"))
    other = ReferralSettings(staff_file=path).staff()
    assert other is not None
    both = StaffDirectory(email_domains=directory.email_domains,
                          staff=(*directory.staff, other.staff[0]))
    assert _assign(both, "psy-2")[0] == "psy-2"
    # Development, without a directory: staff are taken as named, as referrals are.
    assert _assign(None, "mallory")[0] == "mallory"
