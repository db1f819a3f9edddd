"""People and their contact details: the only place names, e-mails and phone numbers live."""

from __future__ import annotations

from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from shared.events.envelope import Event
from shared.events.fields import Id, clean_text, no_personal_numbers_in_id

Language = Literal["da", "en"]
Channel = Literal["email", "sms"]
# How staff want their reminders: one morning digest, or each reminder as it falls due.
ReminderPreference = Literal["digest", "each"]


def normalise_phone(value: str) -> str:
    """Phone numbers are stored in E.164; a number without country code is Danish."""
    try:
        number = phonenumbers.parse(value, "DK")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_name(value: str) -> str:
    """Names are NFC-normalised, trimmed, and hold nothing but a name (see `clean_text`)."""
    try:
        return clean_text(value)
    except ValueError as exc:
        raise ValueError(f"name {exc}") from None


def not_cpr_shaped(value: str) -> str:
    """An id travels in every event and log line; a personal number must never be one. The
    check is the one free text and intake ids get: ten digits in a row, however written."""
    try:
        return no_personal_numbers_in_id(value)
    except ValueError:
        raise ValueError("id looks like a CPR number") from None


Phone = Annotated[str, AfterValidator(normalise_phone)]
Name = Annotated[str, Field(max_length=200), AfterValidator(clean_name)]
PersonId = Annotated[Id, AfterValidator(not_cpr_shaped)]


class ContactDetails(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    language: Language = "da"
    preferred_channel: Channel | None = None
    # Staff only: each reminder on its own, or one morning digest (also when not stated).
    reminders: ReminderPreference | None = None

    @property
    def reachable(self) -> bool:
        return self.email is not None or self.phone is not None


class Person(ContactDetails):
    person_id: PersonId


class PersonUpserted(Event):
    type: Literal["person.upserted"] = "person.upserted"
    person: Person

    @property
    def key(self) -> str:
        return self.person.person_id


class PersonErased(Event):
    type: Literal["person.erased"] = "person.erased"
    person_id: PersonId

    @property
    def key(self) -> str:
        return self.person_id


class RemindersChosen(Event):
    """A member of staff's own choice of how reminders reach them (the portal's settings page).
    The referral service, which keeps `people`, writes it onto their record there."""

    type: Literal["person.reminders_chosen"] = "person.reminders_chosen"
    person_id: PersonId
    reminders: ReminderPreference
    # Who they are as their login says. The referral service changes only a record that
    # exists (on `people` or in its staff directory); these never create one.
    name: Name
    email: EmailStr | None = None

    @property
    def key(self) -> str:
        return self.person_id
