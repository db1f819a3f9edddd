from datetime import date, datetime, time

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from services.notifier.domain.channels import choose_channel, sms_send_at
from services.notifier.domain.gate import decide, required_consent
from services.notifier.domain.gsm7 import segments, to_gsm7
from services.notifier.domain.membership import CourseMembers
from services.notifier.domain.render import ENVIRONMENTS, build_context, render
from shared.calendar import COPENHAGEN
from shared.events import (
    ConsentState,
    ConsentStatement,
    NotificationFacts,
    NotificationRequested,
    Person,
)
from shared.notification_kinds import BASIC_FACTS, KINDS

AT = datetime(2026, 11, 26, 12, tzinfo=COPENHAGEN)
LEADER = Person(person_id="l", name="Lars", email="lars@example.org")
PSY = Person(person_id="p", name="Pia", email="pia@tidlig.dk", phone="+4520304050")


def request(kind: str = "leader_call_coming", role: str = "leader",
            requires: str = "leader_contact") -> NotificationRequested:
    return NotificationRequested(
        occurred_at=AT, course_id="c-abc123", notification_id="n", kind=kind,
        recipient_id={"leader": "l", "psychologist": "p", "employee": "e"}.get(role, "x"),
        recipient_role=role, psychologist_id="p",
        requires_consent=requires,
        facts=NotificationFacts(contact_kind="start_call", due_date=date(2026, 11, 30),
                                reminder_number=2, overdue_working_days=3,
                                review_date=date(2026, 12, 1)))


MEMBERS = CourseMembers(started=True, employee_id="e", leader_id="l", psychologist_id="p",
                        team_lead_id="t")


def consented(agreed: bool) -> ConsentState:
    return ConsentState(leader_contact=ConsentStatement(agreed=agreed, as_of=AT))


def test_a_leader_message_needs_consent_even_when_the_request_says_it_does_not() -> None:
    careless = request(requires="none")
    assert required_consent(careless) == "leader_contact"
    assert decide(careless, LEADER, None, MEMBERS).reason == "no_consent_to_leader_contact"
    assert decide(careless, LEADER, consented(True), MEMBERS).allowed


def test_the_referral_receipt_and_psychologists_reminders_need_no_consent() -> None:
    assert decide(request("referral_receipt", requires="none"), LEADER, None, MEMBERS).allowed
    assert decide(request("contact_reminder", "psychologist", "none"), PSY, None, MEMBERS).allowed


def test_three_party_news_to_a_leader_needs_all_three_agreements() -> None:
    req = request("three_party_meeting_agreed", requires="leader_contact")
    assert decide(req, LEADER, consented(True), MEMBERS).reason == "no_three_party_agreement"


def test_an_erased_recipient_gets_nothing() -> None:
    assert decide(request("referral_receipt", requires="none"), None, None, MEMBERS).reason == (
        "recipient_unknown_or_erased")


def test_leader_context_holds_only_allow_listed_names_dates_and_contact_details() -> None:
    ctx = build_context(request(), LEADER, PSY)
    assert set(ctx) <= BASIC_FACTS
    assert "contact_kind" not in ctx and "reminder_number" not in ctx


@pytest.mark.parametrize("field", ["reason_category", "sick_leave", "diagnosis", "session_notes",
                                   "contact_kind", "reminder_number"])
def test_no_leader_template_can_reach_a_field_outside_the_allow_list(field: str) -> None:
    ctx = build_context(request(), LEADER, PSY)
    with pytest.raises(UndefinedError):
        ENVIRONMENTS["da"].from_string("{{ " + field + " }}").render(ctx)


def test_every_leader_facing_template_renders_from_the_allow_listed_context_alone() -> None:
    for kind, spec in KINDS.items():
        if "leader" not in spec.audience:
            continue
        for lang in spec.templates:
            for channel in ("email", "sms"):
                text = render(kind, lang, channel, build_context(request(kind), LEADER, PSY))
                assert "Lars" in text.body or channel == "sms"


def test_the_sandbox_refuses_attribute_tricks() -> None:
    with pytest.raises(SecurityError):
        ENVIRONMENTS["en"].from_string("{{ ''.__class__.__mro__ }}").render({})


def test_injected_template_syntax_in_a_name_is_printed_not_run() -> None:
    hostile = Person(person_id="l", name="{{ 7*7 }} <b>Lars</b>", email="l@example.org")
    text = render("referral_receipt", "en", "email", build_context(
        request("referral_receipt", requires="none"), hostile, PSY)).body
    assert "{{ 7*7 }}" in text and "49" not in text


def test_sms_text_is_gsm7_with_danish_letters_kept_and_segments_counted() -> None:
    assert to_gsm7("“Hej” – Åse, Søren & Æbelø…") == '"Hej" - Åse, Søren & Æbelø...'
    assert to_gsm7("Zoë ☺") == "Zoe ?"
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2 and segments("€" * 81) == 2


def test_channel_follows_preference_then_email_then_sms() -> None:
    assert choose_channel(PSY) == "email"
    assert choose_channel(PSY.model_copy(update={"preferred_channel": "sms"})) == "sms"
    assert choose_channel(Person(person_id="x", name="X")) is None


def test_sms_waits_for_quiet_hours_to_end_unless_the_deadline_comes_first() -> None:
    late = datetime(2026, 11, 26, 23, 0, tzinfo=COPENHAGEN)
    assert sms_send_at(late, None) == datetime(2026, 11, 27, 8, 0, tzinfo=COPENHAGEN)
    early = datetime(2026, 11, 27, 6, 0, tzinfo=COPENHAGEN)
    assert sms_send_at(early, None) == datetime(2026, 11, 27, 8, 0, tzinfo=COPENHAGEN)
    assert sms_send_at(late, datetime(2026, 11, 27, 7, 0, tzinfo=COPENHAGEN)) == late
    assert sms_send_at(AT, None) == AT
    assert sms_send_at(late, None, quiet_from=time(23, 30)) == late


def test_staff_reminders_never_go_to_a_leader_or_employee() -> None:
    for role in ("leader", "employee"):
        # The recipient holds the role in the course; the kind is still not for them.
        req = request("consent_discussion_reminder", role, "none")
        assert decide(req, LEADER, consented(True), MEMBERS).reason == "kind_not_for_recipient_role"


def test_membership_is_checked_before_the_kind_so_a_forged_role_reads_not_in_role() -> None:
    forged = request("leader_call_coming", "psychologist").model_copy(
        update={"recipient_id": "l"})
    assert decide(forged, LEADER, consented(True), MEMBERS).reason == "not_in_role"


def test_delivery_is_suppressed_deferred_or_sent_in_that_order_of_checks() -> None:
    from services.notifier.domain.delivery import Defer, Send, Suppress, plan_delivery

    night = datetime(2026, 11, 26, 23, 0, tzinfo=COPENHAGEN)
    sms_leader = LEADER.model_copy(update={"phone": "+4521314151", "preferred_channel": "sms"})
    assert plan_delivery(request(), LEADER, consented(False), MEMBERS, AT) == Suppress(
        "no_consent_to_leader_contact")
    assert plan_delivery(request(), Person(person_id="l", name="L"), consented(True), MEMBERS, AT) == (
        Suppress("no_contact_channel"))
    assert plan_delivery(request(), sms_leader, consented(True), MEMBERS, night) == Defer(
        "sms", datetime(2026, 11, 27, 8, 0, tzinfo=COPENHAGEN), "quiet_hours")
    assert plan_delivery(request(), LEADER, consented(True), MEMBERS, night) == Send("email", LEADER)


def test_temporary_failures_are_retried_until_the_budget_is_spent() -> None:
    from services.notifier.domain.delivery import retry_moment

    assert retry_moment(5, 5, AT, None, 2.0) is None
    again = retry_moment(1, 5, AT, 30.0, 2.0)
    assert again is not None and (again - AT).total_seconds() >= 30.0


def test_staff_who_state_no_preference_get_the_digest_and_those_who_ask_for_each_get_singles() -> None:
    from services.notifier.domain.delivery import Send, Suppress, plan_delivery

    reminder = request("contact_reminder", "psychologist", "none")
    assert PSY.reminders is None
    assert plan_delivery(reminder, PSY, None, MEMBERS, AT) == Suppress("in_daily_digest")
    each = PSY.model_copy(update={"reminders": "each"})
    assert plan_delivery(reminder, each, None, MEMBERS, AT) == Send("email", each)
    # Without an e-mail address there is no digest to carry it: the reminder goes by SMS.
    sms_only = PSY.model_copy(update={"email": None})
    assert plan_delivery(reminder, sms_only, None, MEMBERS, AT) == Send("sms", sms_only)


def test_leaders_always_get_single_messages_whatever_their_preference_says() -> None:
    from services.notifier.domain.delivery import Send, plan_delivery

    digest_leader = LEADER.model_copy(update={"reminders": "digest"})
    for leader in (LEADER, digest_leader):
        assert plan_delivery(request(), leader, consented(True), MEMBERS, AT) == Send("email", leader)


def test_nothing_in_a_course_closed_by_an_erasure_goes_out_also_what_was_requested_before() -> None:
    from services.referral.domain.members import fold
    from shared.events import CourseCancelled

    erased = fold(MEMBERS, CourseCancelled(occurred_at=AT, course_id="c-1", reason="person_erased"))
    assert erased is not None
    for role, person in (("leader", "l"), ("psychologist", "p"), ("employee", "e")):
        assert not erased.holds(person, role)  # type: ignore[arg-type]
    assert decide(request(), LEADER, consented(True), erased).reason == "not_in_role"
    # A course withdrawn by its referral keeps its members (its cancellation is no erasure).
    assert fold(MEMBERS, CourseCancelled(occurred_at=AT, course_id="c-1",
                                         reason="referral_withdrawn")) is None
