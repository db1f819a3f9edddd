"""The kind catalogue is complete for every kind, and its consent rule is the one both the
scheduler and the gate apply."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import get_args

import pytest

from services.notifier.domain.gate import decide
from services.notifier.domain.membership import CourseMembers
from services.notifier.domain.render import build_context, render
from shared.events import NotificationFacts, NotificationRequested, Person
from shared.notification_kinds import (
    BASIC_FACTS,
    KINDS,
    STAFF_FACTS,
    NotificationKind,
    RecipientRole,
    TemplateLanguage,
    required_consent,
)

AT = datetime(2026, 11, 26, 9, tzinfo=timezone.utc)
ROLES: tuple[RecipientRole, ...] = get_args(RecipientRole)
PEOPLE = {role: Person(person_id=f"id-{role}", name=f"Navn {role}", email=f"{role}@example.org",
                       phone="+4520304050") for role in ROLES}


MEMBERS = CourseMembers(started=True, **{f"{role}_id": PEOPLE[role].person_id for role in ROLES})


def _request(kind: NotificationKind, role: RecipientRole) -> NotificationRequested:
    return NotificationRequested(
        occurred_at=AT, course_id="c-abc", notification_id="n", kind=kind,
        recipient_id=PEOPLE[role].person_id, recipient_role=role,
        psychologist_id=PEOPLE["psychologist"].person_id, requires_consent="none",
        facts=NotificationFacts(contact_kind="start_call", due_date=date(2026, 12, 1),
                                reminder_number=1, overdue_working_days=2,
                                review_date=date(2026, 12, 2)))


def test_every_kind_has_a_catalogue_entry_and_every_entry_is_a_kind() -> None:
    assert set(KINDS) == set(get_args(NotificationKind))


@pytest.mark.parametrize("kind", sorted(get_args(NotificationKind)))
@pytest.mark.parametrize("language", get_args(TemplateLanguage))
def test_every_kind_renders_in_every_language_for_its_whole_audience(
        kind: NotificationKind, language: TemplateLanguage) -> None:
    spec = KINDS[kind]
    assert language in spec.templates
    assert spec.audience, "a kind nobody may receive"
    assert spec.facts <= STAFF_FACTS
    for role in spec.audience:
        recipient = PEOPLE[role]
        context = build_context(_request(kind, role), recipient, PEOPLE["psychologist"])
        for channel in ("email", "sms"):
            rendered = render(kind, language, channel, context)
            assert rendered.subject.strip() and rendered.body.strip()
            assert "{{" not in rendered.body and "{%" not in rendered.body


def test_nothing_reaches_a_leader_without_consent_except_the_receipt_of_their_own_referral(
) -> None:
    for kind, spec in KINDS.items():
        if "leader" in spec.audience and kind != "referral_receipt":
            assert spec.audience["leader"] != "none", kind
        if "employee" in spec.audience:
            assert spec.audience["employee"] != "none", kind


def test_leaders_and_employees_never_see_more_than_the_basic_facts() -> None:
    for kind, spec in KINDS.items():
        for role in set(spec.audience) & {"leader", "employee"}:
            context = build_context(_request(kind, role), PEOPLE[role], PEOPLE["psychologist"])
            assert set(context) <= BASIC_FACTS, kind


@pytest.mark.parametrize("kind", sorted(get_args(NotificationKind)))
@pytest.mark.parametrize("role", ROLES)
def test_the_gate_applies_the_catalogue_consent_whatever_the_request_claims(
        kind: NotificationKind, role: RecipientRole) -> None:
    if not KINDS[kind].per_course:
        # A kind about no one course (the digest) is never taken from a request: only the
        # notifier itself makes one, so a request for it reaches no one.
        assert decide(_request(kind, role), PEOPLE[role], None, MEMBERS).reason == "not_in_role"
    decision = decide(_request(kind, role), PEOPLE[role], None, MEMBERS, own=True)
    needed = required_consent(kind, role)
    if needed is None:
        assert decision.reason == "kind_not_for_recipient_role"
    elif needed == "none":
        assert decision.allowed
    else:
        assert not decision.allowed
