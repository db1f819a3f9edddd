"""What the service writes on `people`: the details a referral gives, and staff's own choice of
how reminders reach them, which no referral that is silent about it may undo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

from shared.events import Person, PersonUpserted, RemindersChosen

_NS = uuid5(NAMESPACE_URL, "https://lederkontakt/ids/reminders")
Known = Callable[[str], Person | None]


def nobody(_: str) -> Person | None:
    return None


def keep_stated_reminders(person: Person, known: Person | None) -> Person:
    """A referral that does not state a reminder preference keeps the one already on record;
    one that states it sets it."""
    if person.reminders is not None or known is None or known.reminders is None:
        return person
    return person.model_copy(update={"reminders": known.reminders})


# Who a person is and how to reach them: on a record that exists, a referral changes none of
# it (nor the language, which every referral states, if only by its default).
RECORDED_DETAILS = ("name", "email", "phone", "preferred_channel")


def keep_recorded_details(stated: Person, on_record: Person) -> tuple[Person, tuple[str, ...]]:
    """A person on record keeps their details whatever a referral says: anyone who may write
    a referral could otherwise send a leader's or employee's messages, in every course, to
    an address of their choosing, or rename them. Only a stated reminder preference is taken.
    Also returns the names of the details the referral gave otherwise."""
    differing = tuple(f for f in RECORDED_DETAILS
                      if getattr(stated, f) is not None
                      and getattr(stated, f) != getattr(on_record, f))
    reminders = stated.reminders if stated.reminders is not None else on_record.reminders
    return on_record.model_copy(update={"reminders": reminders}), differing


def choose_reminders(event: RemindersChosen, known: Person | None,
                     now: datetime) -> PersonUpserted | None:
    """The person's record as it is, with their choice. Only a record that exists is changed:
    anyone who may write `referrals` could otherwise create a person of any id, and a member
    of staff who was erased would bring their own record back by choosing again."""
    if known is None:
        return None
    person = known.model_copy(update={"reminders": event.reminders})
    return PersonUpserted(event_id=uuid5(_NS, str(event.event_id)), occurred_at=now,
                          correlation_id=event.correlation_id, person=person)
