"""From a referral to an open course: identities, deduplication and withdrawal."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from services.referral.domain.people import (
    Known,
    keep_recorded_details,
    keep_stated_reminders,
    nobody,
)
from shared.calendar import local_date
from shared.events import (
    CourseCancelled,
    CourseStarted,
    Event,
    NotificationRequested,
    Person,
    PersonUpserted,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReferredPerson,
)
from shared.events.fields import CPR_SHAPED

NAMESPACE = uuid5(NAMESPACE_URL, "https://lederkontakt/ids")
# Only for development and tests; a deployment sets LEDERKONTAKT_PERSON_ID_KEY.
DEVELOPMENT_ID_KEY = b"lederkontakt-development-person-id-key"


class IntakeRecord(BaseModel):
    """What the service remembers of a referral id, so a repeat opens nothing new."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    course_id: str | None
    status: Literal["open", "withdrawn"]
    # When the course ended or was cancelled (or the referral was withdrawn before it came):
    # the record is tombstoned the retention's `ended_course_days` later.
    closed_at: datetime | None = None


@dataclass(frozen=True)
class IntakeDecision:
    outputs: list[Event] = field(default_factory=list)
    record: IntakeRecord | None = None
    outcome: str = "ignored"
    # Per party of the referral (by role), the contact details it gave that differ from the
    # record on `people` and were not taken: which fields, never their values.
    kept_on_record: tuple[tuple[str, tuple[str, ...]], ...] = ()


def stable_id(*parts: str) -> UUID:
    return uuid5(NAMESPACE, "/".join(parts))


def course_id_for(referral_id: str) -> str:
    """A referral id always maps to the same course id, so even a repeat that slips past
    deduplication (a crash before the dedup record was written) opens the same course."""
    return f"c-{stable_id('course', referral_id).hex[:20]}"


def person_id_for(person: ReferredPerson, id_key: bytes = DEVELOPMENT_ID_KEY) -> str:
    """The intake's id when it gives one, else an HMAC of the e-mail (or phone) under a secret
    key: the same person gets the same id, but nobody without the key can compute a person's
    id from their e-mail, or tell from an id whose it is."""
    if person.person_id:
        return person.person_id
    return keyed_id(person.email or person.phone or person.name, id_key)


def keyed_id(handle: str, id_key: bytes) -> str:
    """The keyed id of an e-mail, phone number or name. About one digest in fifty holds ten
    digits in a row, which an id may not (it could be a CPR number); such a digest is replaced
    by the next one in a fixed sequence, so the id stays stable."""
    handle = handle.lower()
    for attempt in range(100):
        suffix = f"/{attempt}" if attempt else ""
        digest = hmac.new(id_key, f"person/{handle}{suffix}".encode(), hashlib.sha256)
        candidate = f"p-{digest.hexdigest()[:24]}"
        if not CPR_SHAPED.search(candidate):
            return candidate
    raise ValueError("no keyed id without a CPR-shaped run")  # pragma: no cover


def nobody_erased(_: str) -> bool:
    return False


def names_erased(referral: ReferralSubmitted, erased: Callable[[str], bool],
                 id_key: bytes = DEVELOPMENT_ID_KEY) -> bool:
    """An erased person stays erased: a referral naming one (one still unread when they were
    erased, or a late copy) is refused, or it would bring back their details and start a course
    about them, which nobody would ever close."""
    parties = (referral.employee, referral.leader, referral.psychologist, referral.team_lead)
    return any(erased(person_id_for(p, id_key)) for p in parties if p is not None)


def taken_back(upserted: list[str], started: list[CourseStarted],
               erased: Callable[[str], bool], now: datetime) -> tuple[list[str], list[CourseCancelled]]:
    """What a batch wrote about someone erased while it was being decided: the people to
    tombstone again and the courses it opened for them, cancelled as the erase command
    cancels them (the same event id, so the two count once)."""
    gone = [pid for pid in upserted if erased(pid)]
    cancelled = [CourseCancelled(event_id=stable_id(s.course_id, "erased", person_id),
                                 occurred_at=now, course_id=s.course_id, reason="person_erased")
                 for s in started if s.course_id is not None
                 for person_id in (s.employee_id, s.leader_id) if erased(person_id)]
    return gone, cancelled


def refuse_as_erased(referral: ReferralSubmitted, now: datetime) -> IntakeDecision:
    """A refused referral opens nothing and writes no one's details; its course id is
    cancelled as an erasure would cancel it, so what others derived from the referral alone
    (the reporting service's facts of it) goes too. It is not dead-lettered: a dead letter
    would keep the details the erasure removed."""
    course_id = course_id_for(referral.referral_id)
    cancelled = CourseCancelled(
        event_id=stable_id(course_id, "refused", "erased"), occurred_at=now, course_id=course_id,
        correlation_id=referral.correlation_id, reason="person_erased")
    return IntakeDecision([cancelled], IntakeRecord(course_id=course_id, status="withdrawn",
                                                    closed_at=now),
                          "refused_names_erased_person")


def _person(details: ReferredPerson, at: datetime, course_id: str, known: Known,
            id_key: bytes, vouched: Callable[[str], bool]) -> tuple[PersonUpserted, tuple[str, ...]]:
    """The person's record after the referral, and the details it gave that were not taken."""
    pid = person_id_for(details, id_key)
    stated = Person(person_id=pid, **details.model_dump(exclude={"person_id"}))
    on_record = known(pid)
    person, differing = stated, tuple[str, ...]()
    if on_record is not None and not vouched(pid):
        person, differing = keep_recorded_details(stated, on_record)
    return PersonUpserted(event_id=stable_id(course_id, "person", pid), occurred_at=at,
                          person=keep_stated_reminders(person, on_record)), differing


def closed_since(record: IntakeRecord, course_closed_at: datetime | None) -> IntakeRecord | None:
    """The record stamped with the moment its course closed, once that is known (from the
    course's consent record), so its retention counts from then; None when there is nothing
    to stamp (not closed yet, or stamped already)."""
    if record.closed_at is not None or course_closed_at is None:
        return None
    return record.model_copy(update={"closed_at": course_closed_at})


def nobody_vouched(_: str) -> bool:
    return False


def open_course(referral: ReferralSubmitted, now: datetime, known: Known = nobody,
                id_key: bytes = DEVELOPMENT_ID_KEY,
                vouched: Callable[[str], bool] = nobody_vouched) -> IntakeDecision:
    """A new referral opens one course, records its people (`known` says who is on record
    already, `vouched` whose details come from the staff directory, not the referral) and
    sends the leader a receipt. The receipt needs no employee consent: the leader made the
    referral themselves."""
    course_id = course_id_for(referral.referral_id)

    def person_id(p: ReferredPerson) -> str:
        return person_id_for(p, id_key)

    correlation = referral.correlation_id
    parties = [(role, p) for role in ("employee", "leader", "psychologist", "team_lead")
               if (p := getattr(referral, role)) is not None]
    written = [(role, _person(p, now, course_id, known, id_key, vouched)) for role, p in parties]
    outputs: list[Event] = [upsert for _, (upsert, _) in written]
    kept = tuple((role, differing) for role, (_, differing) in written if differing)
    leader_id = person_id(referral.leader)
    psychologist_id = person_id(referral.psychologist) if referral.psychologist else None
    outputs.append(CourseStarted(
        event_id=stable_id(course_id, "started"), occurred_at=now, course_id=course_id,
        correlation_id=correlation, referral_id=referral.referral_id,
        employee_id=person_id(referral.employee), leader_id=leader_id,
        psychologist_id=psychologist_id,
        team_lead_id=person_id(referral.team_lead) if referral.team_lead else None,
        start_date=local_date(referral.occurred_at), language=referral.employee.language,
        employee_consents_to_leader_contact=referral.employee_consents_to_leader_contact,
        consent_stated_at=referral.occurred_at,
    ))
    outputs.append(NotificationRequested(
        event_id=stable_id(course_id, "receipt"), occurred_at=now, course_id=course_id,
        correlation_id=correlation, notification_id=f"{course_id}:referral_receipt",
        kind="referral_receipt", recipient_id=leader_id, recipient_role="leader",
        psychologist_id=psychologist_id, requires_consent="none",
    ))
    return IntakeDecision(outputs, IntakeRecord(course_id=course_id, status="open"), "opened",
                          kept)


def decide_intake(
    known: IntakeRecord | None, event: ReferralSubmitted | ReferralWithdrawn, now: datetime,
    people: Known = nobody, id_key: bytes = DEVELOPMENT_ID_KEY,
    erased: Callable[[str], bool] = nobody_erased,
    vouched: Callable[[str], bool] = nobody_vouched,
) -> IntakeDecision:
    """A referral id opens at most one course; a withdrawal cancels it, and a withdrawal that
    comes first means a later submission of the same referral opens nothing. A referral
    naming an erased person opens nothing."""
    if isinstance(event, ReferralSubmitted):
        if known is not None:
            return IntakeDecision(outcome="duplicate")
        if names_erased(event, erased, id_key):
            return refuse_as_erased(event, now)
        return open_course(event, now, people, id_key, vouched)
    if known is None:
        return IntakeDecision(record=IntakeRecord(course_id=None, status="withdrawn",
                                                  closed_at=now),
                              outcome="withdrawn_before_submitted")
    if known.status == "withdrawn" or known.course_id is None:
        return IntakeDecision(outcome="duplicate")
    cancelled = CourseCancelled(
        event_id=stable_id(known.course_id, "cancelled"), occurred_at=now,
        course_id=known.course_id, correlation_id=event.correlation_id,
        reason="referral_withdrawn",
    )
    return IntakeDecision([cancelled], IntakeRecord(course_id=known.course_id, status="withdrawn",
                                                    closed_at=now), "cancelled")
