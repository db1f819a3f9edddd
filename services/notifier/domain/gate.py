"""Whether a message may go out now: the consent check made at the moment of sending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events import ConsentState, NotificationRequested, Person

SuppressionReason = Literal[
    "no_consent_to_leader_contact",
    "no_three_party_agreement",
    "recipient_unknown_or_erased",
    "no_contact_channel",
    "kind_not_for_recipient_role",
]
STAFF_ONLY_KINDS = frozenset({"contact_reminder", "consent_discussion_reminder",
                              "overdue_escalation", "plan_review_due"})


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    reason: SuppressionReason | None = None


ALLOWED = ConsentDecision(True)


def required_consent(request: NotificationRequested) -> Literal["none", "leader_contact",
                                                                 "three_party_meeting"]:
    """What consent a message needs, whatever the request claims: anything to a leader other
    than the receipt for their own referral needs the employee's consent to leader contact,
    and news of a three-party meeting to anyone but the psychologist needs all three."""
    if request.kind == "three_party_meeting_agreed" and request.recipient_role != "psychologist":
        return "three_party_meeting"
    if request.recipient_role == "leader" and request.kind != "referral_receipt":
        return "leader_contact"
    if request.requires_consent != "none":
        return request.requires_consent
    return "none"


def decide(request: NotificationRequested, recipient: Person | None,
           consent: ConsentState | None) -> ConsentDecision:
    """Allowed only if the recipient still exists, the message is meant for their role, and the
    course's current consent covers it."""
    if recipient is None:
        return ConsentDecision(False, "recipient_unknown_or_erased")
    if request.kind in STAFF_ONLY_KINDS and request.recipient_role not in ("psychologist",
                                                                           "team_lead"):
        # Staff reminders speak of consent and deadlines; they are never for a leader or employee.
        return ConsentDecision(False, "kind_not_for_recipient_role")
    needed = required_consent(request)
    state = consent or ConsentState()
    if needed == "leader_contact" and not state.allows_leader_contact:
        return ConsentDecision(False, "no_consent_to_leader_contact")
    if needed == "three_party_meeting" and not state.allows_three_party_meeting:
        return ConsentDecision(False, "no_three_party_agreement")
    return ALLOWED
