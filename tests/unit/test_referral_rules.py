from datetime import UTC, datetime, timedelta

from services.referral.domain.consent import apply_statement, initial_consent, merge
from services.referral.domain.intake import IntakeRecord, course_id_for, decide_intake
from shared.catalogue import topic_of
from shared.events import ConsentGiven, ConsentState, ConsentWithdrawn, CourseStarted, ReferralWithdrawn
from tests.samples import AT, referral

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)


def test_a_new_referral_opens_one_course_with_its_people_and_a_receipt_to_the_leader() -> None:
    decision = decide_intake(None, referral(), NOW)
    kinds = [(topic_of(e), e.type) for e in decision.outputs]  # type: ignore[attr-defined]
    assert kinds.count(("people", "person.upserted")) == 3
    assert ("courses", "course.started") in kinds
    [receipt] = [e for e in decision.outputs if topic_of(e) == "notifications.requested"]
    assert receipt.recipient_role == "leader" and receipt.requires_consent == "none"  # type: ignore[attr-defined]
    assert decision.record == IntakeRecord(course_id=course_id_for("r-1"), status="open")


def test_a_repeated_referral_opens_nothing_and_the_same_id_maps_to_the_same_course() -> None:
    first = decide_intake(None, referral(), NOW)
    assert decide_intake(first.record, referral(), NOW).outputs == []
    again = decide_intake(None, referral(), NOW + timedelta(hours=1))
    assert [e.event_id for e in again.outputs] == [e.event_id for e in first.outputs]


def test_the_course_carries_person_ids_but_no_contact_details_or_reason() -> None:
    [course] = [e for e in decide_intake(None, referral(), NOW).outputs if topic_of(e) == "courses"]
    text = course.model_dump_json()
    for secret in ("emma@", "lars@", "+45", "stress", "at_risk"):
        assert secret not in text


def test_withdrawal_cancels_an_open_course_once() -> None:
    opened = decide_intake(None, referral(), NOW).record
    withdrawn = ReferralWithdrawn(occurred_at=AT, referral_id="r-1")
    cancel = decide_intake(opened, withdrawn, NOW)
    assert [e.type for e in cancel.outputs] == ["course.cancelled"]  # type: ignore[attr-defined]
    assert decide_intake(cancel.record, withdrawn, NOW).outputs == []


def test_a_withdrawal_before_its_referral_keeps_the_course_from_opening() -> None:
    early = decide_intake(None, ReferralWithdrawn(occurred_at=AT, referral_id="r-1"), NOW)
    assert decide_intake(early.record, referral(), NOW).outputs == []


def _course(consent: bool) -> CourseStarted:
    [c] = [e for e in decide_intake(None, referral(consent=consent), NOW).outputs
           if isinstance(e, CourseStarted)]
    assert isinstance(c, CourseStarted)
    return c


def test_a_withdrawal_after_a_grant_wins_even_when_it_arrives_first() -> None:
    given = ConsentGiven(occurred_at=AT + timedelta(hours=1), course_id="c", party="employee",
                         scope="leader_contact")
    withdrawn = ConsentWithdrawn(occurred_at=AT + timedelta(hours=2), course_id="c",
                                 party="employee", scope="leader_contact")
    out_of_order = apply_statement(apply_statement(ConsentState(), withdrawn), given)  # type: ignore[arg-type]
    assert isinstance(out_of_order, ConsentState) and not out_of_order.allows_leader_contact
    state = merge(out_of_order, initial_consent(_course(consent=True)))
    assert not state.allows_leader_contact


def test_at_the_same_instant_a_refusal_beats_a_grant() -> None:
    given = ConsentGiven(occurred_at=AT, course_id="c", party="employee", scope="leader_contact")
    withdrawn = ConsentWithdrawn(occurred_at=AT, course_id="c", party="employee",
                                 scope="leader_contact")
    for first, second in ((given, withdrawn), (withdrawn, given)):
        state = apply_statement(apply_statement(ConsentState(), first), second)  # type: ignore[arg-type]
        assert isinstance(state, ConsentState) and not state.allows_leader_contact


def test_only_the_employee_can_consent_to_leader_contact() -> None:
    by_leader = ConsentGiven(occurred_at=AT, course_id="c", party="leader", scope="leader_contact")
    assert isinstance(apply_statement(ConsentState(), by_leader), str)


def test_a_three_party_meeting_needs_all_three_and_the_employees_leader_consent() -> None:
    state: ConsentState | str = initial_consent(_course(consent=True))
    state = apply_statement(state, ConsentGiven(  # type: ignore[arg-type]
        occurred_at=AT, course_id="c", party="employee", scope="leader_contact"))
    for party in ("employee", "leader"):
        state = apply_statement(state, ConsentGiven(  # type: ignore[arg-type]
            occurred_at=AT + timedelta(hours=1), course_id="c", party=party,
            scope="three_party_meeting"))
    assert isinstance(state, ConsentState) and not state.allows_three_party_meeting
    state = apply_statement(state, ConsentGiven(occurred_at=AT + timedelta(hours=1), course_id="c",
                                                party="psychologist", scope="three_party_meeting"))
    assert isinstance(state, ConsentState) and state.allows_three_party_meeting


def test_only_consent_events_that_change_something_update_the_consent() -> None:
    from services.referral.domain.consent import update
    from shared.events import SessionHeld

    held = SessionHeld(occurred_at=AT, course_id="c", session_id="s", at=AT)
    assert update(None, held) is None
    given = ConsentGiven(occurred_at=AT, course_id="c", party="employee", scope="leader_contact")
    state = update(None, given)
    assert isinstance(state, ConsentState) and state.allows_leader_contact
    assert update(state, given) is None
    by_leader = ConsentGiven(occurred_at=AT, course_id="c", party="leader", scope="leader_contact")
    assert isinstance(update(state, by_leader), str)


def test_what_the_leader_states_on_the_referral_is_kept_apart_and_opens_nothing() -> None:
    state = initial_consent(_course(consent=True))
    assert state.stated_by_leader is not None and state.stated_by_leader.agreed
    assert state.leader_contact is None and not state.allows_leader_contact
