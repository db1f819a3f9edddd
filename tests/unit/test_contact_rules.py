from datetime import UTC, date, datetime, timedelta

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner, Step
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Event,
    FollowUpRequested,
    LeaderContactLogged,
    NotificationRequested,
)

RULES = ContactPlanner(ContactPolicy(), WorkingDayCalendar())


def started(start: date, consent: bool = True) -> CourseStarted:
    at = datetime.combine(start, datetime.min.time(), tzinfo=COPENHAGEN)
    return CourseStarted(occurred_at=at, course_id="c1", referral_id="r1", employee_id="emp",
                         leader_id="lead", psychologist_id="psy", team_lead_id="boss",
                         start_date=start, employee_consents_to_leader_contact=consent,
                         consent_stated_at=at)


def run(events: list[Event], now: datetime) -> Step:
    plan, outputs = CoursePlan(course_id="c1"), []
    for event in events:
        step = RULES.apply(plan, event, now)
        plan, outputs = step.plan, outputs + step.outputs
    return Step(plan, outputs)


def notes(step: Step) -> list[NotificationRequested]:
    return [e for e in step.outputs if isinstance(e, NotificationRequested)]


def local(dt: datetime | None) -> datetime:
    assert dt is not None
    return dt.astimezone(COPENHAGEN).replace(tzinfo=None)


def test_start_call_is_due_two_working_days_after_course_start() -> None:
    step = run([consent(True), started(date(2026, 11, 23))], datetime(2026, 11, 23, tzinfo=UTC))
    point = step.plan.points["start_call"]
    assert (point.due_from, point.due_by, point.state) == (
        date(2026, 11, 23), date(2026, 11, 25), "scheduled")
    assert local(step.plan.next_fire_at) == datetime(2026, 11, 23, 8, 30)


def test_a_course_starting_on_maundy_thursday_2027_is_reminded_after_easter() -> None:
    step = run([consent(True), started(date(2027, 3, 25))], datetime(2027, 3, 25, tzinfo=UTC))
    point = step.plan.points["start_call"]
    assert point.due_by == date(2027, 3, 31)  # Tue 30, Wed 31 March
    moments = RULES.stage_moments(point)
    assert [local(t) for _, t in moments] == [
        datetime(2027, 3, 30, 8, 30), datetime(2027, 4, 1, 8, 30), datetime(2027, 4, 5, 8, 30)]


def test_a_course_starting_friday_18_december_2026_escalates_after_christmas() -> None:
    step = run([consent(True), started(date(2026, 12, 18))], datetime(2026, 12, 18, tzinfo=UTC))
    point = step.plan.points["start_call"]
    assert point.due_by == date(2026, 12, 22)
    assert [(s, local(t).date()) for s, t in RULES.stage_moments(point)] == [
        ("due", date(2026, 12, 18)), ("overdue", date(2026, 12, 23)),
        ("escalated", date(2026, 12, 29))]
    fired = RULES.fire_due(step.plan, datetime(2026, 12, 29, 8, 30, tzinfo=COPENHAGEN))
    kinds = [(n.kind, n.recipient_role) for n in notes(fired)]
    assert kinds == [("contact_reminder", "psychologist"), ("leader_call_coming", "leader"),
                     ("contact_reminder", "psychologist"), ("overdue_escalation", "team_lead")]
    assert [n.late for n in notes(fired)] == [True, True, True, False]
    assert fired.plan.points["start_call"].state == "overdue"


def test_reminders_stay_at_0830_copenhagen_across_the_dst_change_of_28_march_2027() -> None:
    step = run([consent(True), started(date(2027, 3, 24))], datetime(2027, 3, 24, tzinfo=UTC))
    moments = dict(RULES.stage_moments(step.plan.points["start_call"]))
    assert moments["due"].astimezone(UTC).hour == 7  # 08:30 CET
    assert moments["overdue"].astimezone(UTC).hour == 6  # 08:30 CEST, 1 April
    assert local(moments["overdue"]) == datetime(2027, 4, 1, 8, 30)


def test_each_reminder_fires_once() -> None:
    step = run([consent(True), started(date(2026, 11, 23))], datetime(2026, 11, 23, tzinfo=UTC))
    at = datetime(2026, 11, 23, 9, tzinfo=COPENHAGEN)
    first = RULES.fire_due(step.plan, at)
    again = RULES.fire_due(first.plan, at + timedelta(minutes=5))
    assert len(notes(first)) == 2 and notes(again) == []


def consent(leader_contact: bool, three_party: bool = False, at: datetime | None = None) -> ConsentRecorded:
    at = at or datetime(2026, 11, 20, tzinfo=UTC)
    statement = ConsentStatement(agreed=leader_contact, as_of=at)
    parties = {p: ConsentStatement(agreed=three_party, as_of=at)
               for p in ("employee", "leader", "psychologist")}
    return ConsentRecorded(occurred_at=at, course_id="c1",
                           state=ConsentState(leader_contact=statement, three_party=parties))


def test_without_consent_the_start_call_is_blocked_and_the_psychologist_asked_to_discuss_it() -> None:
    step = run([started(date(2026, 11, 23), consent=False)], datetime(2026, 11, 23, tzinfo=UTC))
    assert step.plan.points["start_call"].state == "blocked_no_consent"
    fired = RULES.fire_due(step.plan, datetime(2026, 11, 23, 8, 31, tzinfo=COPENHAGEN))
    assert [(n.kind, n.recipient_role) for n in notes(fired)] == [
        ("consent_discussion_reminder", "psychologist")]


def test_consent_arriving_after_the_start_call_fell_due_makes_it_due_at_once() -> None:
    step = run([started(date(2026, 11, 23), consent=False)], datetime(2026, 11, 23, tzinfo=UTC))
    step = RULES.fire_due(step.plan, datetime(2026, 11, 23, 8, 31, tzinfo=COPENHAGEN))
    later = datetime(2026, 11, 24, 14, tzinfo=COPENHAGEN)
    step = RULES.apply(step.plan, consent(True, at=later), later)
    assert step.plan.points["start_call"].state == "scheduled"
    fired = RULES.fire_due(step.plan, later)
    assert [(n.kind, n.late) for n in notes(fired)] == [
        ("contact_reminder", True), ("leader_call_coming", True)]
    assert fired.plan.points["start_call"].state == "due"


def test_withdrawn_consent_cancels_a_planned_three_party_meeting() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    step = run([consent(True), started(date(2026, 11, 23)), consent(True, three_party=True)], now)
    assert step.plan.points["three_party_meeting"].state == "scheduled"
    agreed = [n for n in notes(step) if n.kind == "three_party_meeting_agreed"]
    assert {n.recipient_role for n in agreed} == {"leader", "psychologist", "employee"}
    step = RULES.apply(step.plan, consent(True, three_party=False), now)
    assert step.plan.points["three_party_meeting"].state == "cancelled"


def test_a_follow_up_requested_twice_with_the_same_id_is_one_point() -> None:
    ask = FollowUpRequested(occurred_at=datetime(2026, 11, 24, tzinfo=UTC), course_id="c1",
                            follow_up_id="f1")
    step = run([consent(True), started(date(2026, 11, 23)), ask, ask], datetime(2026, 11, 24, tzinfo=UTC))
    assert [p for p in step.plan.points if p.startswith("follow_up")] == ["follow_up:f1"]
    assert step.plan.points["follow_up:f1"].due_by == date(2026, 12, 1)


def test_a_logged_leader_contact_completes_the_start_call_and_stops_its_reminders() -> None:
    logged = LeaderContactLogged(occurred_at=datetime(2026, 11, 23, 10, tzinfo=UTC), course_id="c1",
                                 contact_kind="start_call", at=datetime(2026, 11, 23, 10, tzinfo=UTC))
    step = run([consent(True), started(date(2026, 11, 23)), logged], datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert step.plan.points["start_call"].state == "completed"
    assert step.plan.next_fire_at is None


def test_a_call_that_did_not_reach_the_leader_completes_nothing() -> None:
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    missed = LeaderContactLogged(occurred_at=at, course_id="c1", contact_kind="start_call", at=at,
                                 reached=False)
    step = run([started(date(2026, 11, 23)), missed], at)
    assert step.plan.points["start_call"].state != "completed"


def test_course_end_cancels_what_is_open_and_plans_the_end_contact() -> None:
    ended = CourseEnded(occurred_at=datetime(2027, 1, 15, tzinfo=UTC), course_id="c1",
                        end_date=date(2027, 1, 15))
    step = run([consent(True), started(date(2026, 11, 23)), ended], datetime(2027, 1, 15, tzinfo=UTC))
    assert step.plan.points["start_call"].state == "cancelled"
    assert step.plan.points["end_contact"].due_by == date(2027, 1, 22)


def test_erasing_the_employee_of_an_ended_course_cancels_its_end_contact() -> None:
    at = datetime(2027, 1, 15, tzinfo=UTC)
    ended = CourseEnded(occurred_at=at, course_id="c1", end_date=date(2027, 1, 15))
    erased = CourseCancelled(occurred_at=at, course_id="c1", reason="person_erased")
    step = run([consent(True), started(date(2026, 11, 23)), ended, erased], at)
    assert step.plan.points["end_contact"].state == "cancelled"
    assert step.plan.next_fire_at is None
    later = RULES.fire_due(step.plan, datetime(2027, 1, 25, 9, tzinfo=COPENHAGEN))
    assert notes(later) == []


def test_an_ended_course_cancelled_for_another_reason_keeps_its_end_contact() -> None:
    at = datetime(2027, 1, 15, tzinfo=UTC)
    ended = CourseEnded(occurred_at=at, course_id="c1", end_date=date(2027, 1, 15))
    withdrawn = CourseCancelled(occurred_at=at, course_id="c1", reason="referral_withdrawn")
    step = run([consent(True), started(date(2026, 11, 23)), ended, withdrawn], at)
    assert step.plan.points["end_contact"].is_open


def test_consent_recorded_before_the_course_started_is_not_overridden_by_the_referral_form() -> None:
    step = run([consent(False), started(date(2026, 11, 23), consent=True)],
               datetime(2026, 11, 23, tzinfo=UTC))
    assert step.plan.points["start_call"].state == "blocked_no_consent"


def test_the_leaders_statement_on_the_referral_never_opens_leader_contact() -> None:
    step = run([started(date(2026, 11, 23), consent=True)], datetime(2026, 11, 23, tzinfo=UTC))
    assert step.plan.points["start_call"].state == "blocked_no_consent"
    fired = RULES.fire_due(step.plan, datetime(2026, 11, 23, 9, tzinfo=COPENHAGEN))
    assert [(n.kind, n.recipient_role) for n in notes(fired)] == [
        ("consent_discussion_reminder", "psychologist")]


def test_a_repeated_event_id_is_recognised_by_the_plan() -> None:
    plan = CoursePlan(course_id="c1")
    for i in range(150):
        plan = plan.with_applied(f"e{i}")
    assert plan.has_applied("e149") and not plan.has_applied("e0") and len(plan.applied) == 100


def _assigned(psychologist: str, recorded: bool) -> Event:
    """A reassignment as written on `sessions`, or as the referral service took it into the
    course's consents record (which it does only for a psychologist of the staff directory)."""
    from shared.events import CourseMembers, PsychologistAssigned

    at = datetime(2026, 11, 23, 7, tzinfo=UTC)
    if not recorded:
        return PsychologistAssigned(occurred_at=at, course_id="c1", psychologist_id=psychologist)
    members = CourseMembers(started=True, employee_id="emp", leader_id="lead",
                            psychologist_id=psychologist, team_lead_id="boss", assigned_at=at)
    return consent(True).model_copy(update={"members": members})


def test_reminders_go_to_the_psychologist_the_consents_record_names_not_to_any_assignment() -> None:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    # Written on `sessions` by someone who may, but not taken by the referral service.
    step = run([consent(True), started(date(2026, 11, 23)), _assigned("mallory", False)], at)
    assert step.plan.psychologist_id == "psy"
    step = run([consent(True), started(date(2026, 11, 23)), _assigned("mallory", False),
                _assigned("psy-2", True)], at)
    fired = RULES.fire_due(step.plan, datetime(2026, 11, 23, 9, tzinfo=COPENHAGEN))
    assert {n.recipient_id for n in notes(fired) if n.recipient_role == "psychologist"} == {
        "psy-2"}
    # A reassignment read before the course's start stands.
    early = run([_assigned("psy-2", True), started(date(2026, 11, 23))], at)
    assert early.plan.psychologist_id == "psy-2"
