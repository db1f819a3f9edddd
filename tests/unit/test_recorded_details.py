"""A referral naming someone already on `people` opens its course, but cannot change how that
person is reached or what they are called: whoever writes a referral could otherwise send a
leader's or employee's messages, in every course, to an address of their choosing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from services.referral.domain.intake import decide_intake, person_id_for
from services.referral.domain.staff import StaffDirectory, StaffMember
from shared.events import (
    CourseStarted,
    Event,
    Person,
    PersonUpserted,
    ReferredPerson,
    decode_event,
    encode_event,
)
from tests.fakes import FakeView, Record
from tests.samples import referral
from tests.unit.test_referral_handler_properties import TOPICS, _handlers

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
LARS = Person(person_id="l-lars", name="Lars Leader", email="lars@example.org",
              phone="+4521314151", preferred_channel="sms", language="en")
EMMA_ID = person_id_for(ReferredPerson(name="Emma", email="emma@example.org"))
EMMA = Person(person_id=EMMA_ID, name="Emma Employee", email="emma@example.org",
              phone="+4520304050")
MALLORY = dict(email="mallory@evil.example", phone="+4530405060")


def _people(outputs: list[Event]) -> dict[str, Person]:
    return {e.person.person_id: e.person for e in outputs if isinstance(e, PersonUpserted)}


def test_a_referral_giving_a_leaders_id_with_other_details_keeps_the_recorded_ones() -> None:
    forged = referral("r-9", leader=ReferredPerson(
        person_id="l-lars", name="Lars Leader", preferred_channel="email", **MALLORY))
    decision = decide_intake(None, forged, NOW, {"l-lars": LARS}.get)
    assert _people(decision.outputs)["l-lars"] == LARS
    # The course opens all the same, with the leader it names.
    [started] = [e for e in decision.outputs if isinstance(e, CourseStarted)]
    assert started.leader_id == "l-lars"
    assert decision.kept_on_record == (("leader", ("email", "phone", "preferred_channel")),)


def test_a_referral_naming_an_employee_by_e_mail_cannot_rename_them_or_change_their_phone(
) -> None:
    # As the portal writes it: no id, no channel; the e-mail resolves to Emma's record.
    portal = referral("r-9", employee=ReferredPerson(
        name="Someone Else", email="emma@example.org", phone="+4530405060"))
    decision = decide_intake(None, portal, NOW, {EMMA_ID: EMMA}.get)
    assert _people(decision.outputs)[EMMA_ID] == EMMA
    assert decision.kept_on_record == (("employee", ("name", "phone")),)


def test_a_referral_repeating_the_recorded_details_reports_nothing_kept() -> None:
    same = referral("r-9", leader=ReferredPerson(
        person_id="l-lars", name="Lars Leader", email="lars@example.org"))
    decision = decide_intake(None, same, NOW, {"l-lars": LARS}.get)
    assert _people(decision.outputs)["l-lars"] == LARS
    assert decision.kept_on_record == ()


def test_someone_not_on_record_gets_the_details_the_referral_gives() -> None:
    decision = decide_intake(None, referral("r-9"), NOW)
    assert _people(decision.outputs)[EMMA_ID].phone == "+4520304050"
    assert decision.kept_on_record == ()


def test_staff_get_the_directorys_details_even_over_an_older_record() -> None:
    handlers, producer = _handlers()
    handlers.people = FakeView({"psy-1": Person(person_id="psy-1", name="Pia Psykolog",
                                                email="pia.old@tidlig.dk")})
    handlers.staff = StaffDirectory(email_domains=frozenset({"tidlig.dk"}), staff=(StaffMember(
        id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk",
        roles=frozenset({"psychologist"})),))
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(referral("r-9")), b"r-9", 0, 0)]))
    written = _people([decode_event(r.value) for r in producer.on(TOPICS.people)])
    assert written["psy-1"].email == "pia@tidlig.dk"


def test_the_service_logs_which_details_it_did_not_take_without_their_values() -> None:
    handlers, producer = _handlers()
    handlers.people = FakeView({"l-lars": LARS})
    forged = referral("r-9", leader=ReferredPerson(person_id="l-lars", name="Lars Leader",
                                                   **MALLORY))
    with structlog.testing.capture_logs() as logs:
        asyncio.run(handlers.on_referrals([
            Record(TOPICS.referrals, encode_event(forged), b"r-9", 0, 0)]))
    written = _people([decode_event(r.value) for r in producer.on(TOPICS.people)])
    assert written["l-lars"] == LARS
    assert producer.on(TOPICS.courses)  # the course still opens
    [line] = [entry for entry in logs if entry["event"] == "referral_details_not_taken"]
    assert (line["party"], line["fields"]) == ("leader", ["email", "phone"])
    assert "mallory" not in repr(logs) and "4530405060" not in repr(logs)
    assert "l-lars" not in repr(line)


def test_an_erasure_read_from_erasures_tombstones_the_person_on_people() -> None:
    from shared.events import PersonErased

    handlers, producer = _handlers()
    erasure = PersonErased(occurred_at=NOW, person_id="l-lars")
    asyncio.run(handlers.on_erasures([
        Record(TOPICS.erasures, encode_event(erasure), b"l-lars", 0, 0),
        Record(TOPICS.erasures, b"not an event", b"x", 0, 1)]))
    written = producer.on(TOPICS.people)
    assert [(r.key, r.value is None) for r in written] == [("l-lars", False), ("l-lars", True)]
    assert isinstance(decode_event(written[0].value), PersonErased)
