"""Staff choose how reminders reach them; the referral service writes the choice onto `people`
and keeps it when a later referral names them without stating one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.referral.domain.intake import decide_intake
from services.referral.domain.people import choose_reminders, keep_stated_reminders
from services.referral.domain.staff import StaffDirectory, StaffMember
from shared.events import (
    Event,
    Person,
    PersonUpserted,
    ReferredPerson,
    RemindersChosen,
    decode_event,
    encode_event,
)
from tests.fakes import FakeView, Record
from tests.samples import referral
from tests.unit.test_referral_handler_properties import TOPICS, _handlers

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
PIA = Person(person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk")


def _silent_referral(referral_id: str = "r-1") -> object:
    """A referral that names Pia without saying how she wants her reminders."""
    return referral(referral_id, psychologist=ReferredPerson(
        person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk"))


def _people(outputs: list[Event]) -> dict[str, Person]:
    return {e.person.person_id: e.person for e in outputs if isinstance(e, PersonUpserted)}


def test_a_referral_that_states_no_preference_keeps_the_one_on_record() -> None:
    on_record = PIA.model_copy(update={"reminders": "each"})
    decision = decide_intake(None, _silent_referral(), NOW,  # type: ignore[arg-type]
                             {"psy-1": on_record}.get)
    assert _people(decision.outputs)["psy-1"].reminders == "each"


def test_a_referral_that_states_a_preference_sets_it() -> None:
    on_record = PIA.model_copy(update={"reminders": "digest"})
    stated = referral("r-1")  # its psychologist states "each"
    assert _people(decide_intake(None, stated, NOW, {"psy-1": on_record}.get).outputs)[
        "psy-1"].reminders == "each"


def test_a_new_person_without_a_stated_preference_has_none() -> None:
    assert keep_stated_reminders(PIA, None).reminders is None
    assert keep_stated_reminders(PIA, PIA).reminders is None


def test_a_choice_is_written_onto_the_record_as_it_stands() -> None:
    on_record = PIA.model_copy(update={"phone": "+4520304050", "language": "en"})
    chosen = RemindersChosen(occurred_at=NOW, person_id="psy-1", reminders="each",
                             name="Pia (login)", email="other@tidlig.dk")
    upsert = choose_reminders(chosen, on_record, NOW)
    assert upsert is not None
    assert upsert.person == on_record.model_copy(update={"reminders": "each"})
    # A repeat of the same choice is the same upsert.
    again = choose_reminders(chosen, on_record, NOW)
    assert again is not None and again.event_id == upsert.event_id


def test_a_choice_for_an_id_with_no_record_creates_nobody() -> None:
    handlers, producer = _handlers()
    handlers.people = FakeView({})
    chosen = RemindersChosen(occurred_at=NOW, person_id="p-anyone", reminders="each",
                             name="Mallory", email="mallory@evil.example")
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(chosen), b"p-anyone", 0, 0)]))
    assert producer.on(TOPICS.people) == []


def test_a_member_of_staff_no_referral_named_yet_gets_the_directory_record_with_the_choice(
) -> None:
    handlers, producer = _handlers()
    handlers.people = FakeView({})
    handlers.staff = StaffDirectory(email_domains=frozenset({"tidlig.dk"}), staff=(StaffMember(
        id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk", roles=frozenset({"psychologist"})),))
    chosen = RemindersChosen(occurred_at=NOW, person_id="psy-1", reminders="each",
                             name="Pia (login)", email="other@tidlig.dk")
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(chosen), b"psy-1", 0, 0)]))
    [upsert] = [decode_event(r.value) for r in producer.on(TOPICS.people)]
    assert isinstance(upsert, PersonUpserted)
    assert (upsert.person.name, upsert.person.email, upsert.person.reminders) == (
        "Pia Psykolog", "pia@tidlig.dk", "each")


def test_the_service_keeps_a_choice_made_on_the_portal_when_a_later_referral_names_her() -> None:
    handlers, producer = _handlers()
    handlers.people = FakeView({"psy-1": PIA})
    chosen = RemindersChosen(occurred_at=NOW, person_id="psy-1", reminders="each",
                             name="Pia Psykolog", email="pia@tidlig.dk")
    # The choice and then a referral in the same batch; then a referral in the next batch with
    # the view updated as `people` would be.
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(chosen), b"psy-1", 0, 0),
        Record(TOPICS.referrals, encode_event(_silent_referral("r-a")), b"r-a", 0, 1)]))
    written = [decode_event(r.value) for r in producer.on(TOPICS.people)]
    pia = [e.person for e in written if isinstance(e, PersonUpserted)
           and e.person.person_id == "psy-1"]
    assert [p.reminders for p in pia] == ["each", "each"]
    handlers.people = FakeView({"psy-1": pia[-1]})
    asyncio.run(handlers.on_referrals([
        Record(TOPICS.referrals, encode_event(_silent_referral("r-b")), b"r-b", 0, 2)]))
    later = [decode_event(r.value) for r in producer.on(TOPICS.people)][len(written):]
    assert [e.person.reminders for e in later if isinstance(e, PersonUpserted)
            and e.person.person_id == "psy-1"] == ["each"]
