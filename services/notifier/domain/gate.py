"""Whether a message may go out now: the consent check made at the moment of sending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.notifier.domain.membership import CourseMembers
from shared.events import ConsentState, NotificationRequested, Person
from shared.notification_kinds import KINDS, ConsentRequirement
from shared.notification_kinds import required_consent as catalogue_consent

SuppressionReason = Literal[
    "no_consent_to_leader_contact",
    "no_three_party_agreement",
    "recipient_unknown_or_erased",
    "no_contact_channel",
    "kind_not_for_recipient_role",
    "not_in_role",
    "in_daily_digest",
]


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    reason: SuppressionReason | None = None


ALLOWED = ConsentDecision(True)


def required_consent(request: NotificationRequested) -> ConsentRequirement | None:
    """What consent a message needs, from the kind catalogue, whatever the request claims;
    None when the kind is never for the recipient's role."""
    return catalogue_consent(request.kind, request.recipient_role)


def decide(request: NotificationRequested, recipient: Person | None,
           consent: ConsentState | None, members: CourseMembers | None,
           own: bool = False) -> ConsentDecision:
    """Allowed only if the recipient still exists, holds the claimed role in the named course
    (as the course events say, not the request), the message is meant for that role, and the
    course's current consent covers it."""
    if recipient is None:
        return ConsentDecision(False, "recipient_unknown_or_erased")
    spec = KINDS.get(request.kind)
    per_course = spec is None or spec.per_course
    if not per_course and not own:
        # A kind about no one course (the digest) is only ever made by the notifier itself,
        # which puts it together from the courses the recipient holds a role in; asked for
        # from outside, it would reach anyone who claims a staff role.
        return ConsentDecision(False, "not_in_role")
    if per_course and (members is None
                       or not members.holds(request.recipient_id, request.recipient_role)):
        # A request naming someone in a role they do not hold (or another course than theirs)
        # would otherwise pick the consent rule, the texts and the facts of that role.
        return ConsentDecision(False, "not_in_role")
    needed = required_consent(request)
    if needed is None:
        # Staff reminders speak of consent and deadlines; they are never for a leader or employee.
        return ConsentDecision(False, "kind_not_for_recipient_role")
    state = consent or ConsentState()
    if needed == "leader_contact" and not state.allows_leader_contact:
        return ConsentDecision(False, "no_consent_to_leader_contact")
    if needed == "three_party_meeting" and not state.allows_three_party_meeting:
        return ConsentDecision(False, "no_three_party_agreement")
    return ALLOWED
