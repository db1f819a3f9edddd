"""A course's consent: the latest statement of each party wins, whatever order they arrive in."""

from __future__ import annotations

from datetime import datetime

from shared.events import (
    ConsentGiven,
    ConsentState,
    ConsentStatement,
    ConsentWithdrawn,
    CourseStarted,
    Event,
)

CONSENT_INPUTS = (CourseStarted, ConsentGiven, ConsentWithdrawn)


def _newer(current: ConsentStatement | None, candidate: ConsentStatement) -> bool:
    """A later statement replaces an earlier one; at the same instant a refusal wins, since
    contacting a leader without consent is the harm we must never do."""
    if current is None or candidate.as_of > current.as_of:
        return True
    return candidate.as_of == current.as_of and not candidate.agreed


def initial_consent(course: CourseStarted) -> ConsentState:
    """The referral form is filled in by the leader: its consent answer is recorded as what the
    leader stated, and opens nothing. Consent to disclose to a leader is the employee's to give
    (Sundhedsloven § 43)."""
    if course.consent_stated_at is None:
        return ConsentState()
    return ConsentState(stated_by_leader=ConsentStatement(
        agreed=course.employee_consents_to_leader_contact, as_of=course.consent_stated_at))


def merge(state: ConsentState, other: ConsentState) -> ConsentState:
    """Combine two views of one course's consent, statement by statement."""
    merged = state
    if other.stated_by_leader is not None and state.stated_by_leader is None:
        merged = merged.model_copy(update={"stated_by_leader": other.stated_by_leader})
    if other.leader_contact is not None:
        merged = _apply(merged, "employee", "leader_contact", other.leader_contact)
    for party, statement in other.three_party.items():
        merged = _apply(merged, party, "three_party_meeting", statement)
    return merged


def apply_statement(
    state: ConsentState, event: ConsentGiven | ConsentWithdrawn
) -> ConsentState | str:
    """The new consent state, or the reason the statement cannot be applied.
    Only the employee can consent to the psychologist contacting the leader."""
    if event.scope == "leader_contact" and event.party != "employee":
        return f"{event.party} cannot consent to leader contact on the employee's behalf"
    statement = ConsentStatement(agreed=isinstance(event, ConsentGiven), as_of=event.occurred_at)
    return _apply(state, event.party, event.scope, statement)


def _apply(state: ConsentState, party: str, scope: str, statement: ConsentStatement) -> ConsentState:
    if scope == "leader_contact":
        if not _newer(state.leader_contact, statement):
            return state
        return state.model_copy(update={"leader_contact": statement})
    if not _newer(state.three_party.get(party), statement):  # type: ignore[call-overload]
        return state
    return state.model_copy(update={"three_party": {**state.three_party, party: statement}})


def as_of(state: ConsentState) -> datetime | None:
    times = [s.as_of for s in state.three_party.values()]
    if state.leader_contact:
        times.append(state.leader_contact.as_of)
    return max(times) if times else None


def update(current: ConsentState | None, event: Event) -> ConsentState | str | None:
    """The course's new consent after `event`: None when nothing changes (not a consent matter,
    or an older or repeated statement), a reason string when the statement is refused."""
    if not isinstance(event, CONSENT_INPUTS):
        return None
    state = current or ConsentState()
    updated = (merge(state, initial_consent(event)) if isinstance(event, CourseStarted)
               else apply_statement(state, event))
    if current is not None and updated == current:
        return None
    return updated
