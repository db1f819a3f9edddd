"""A leader's list of their referrals outlives the raw referrals: `referrals` keeps them only
within the erasure bound, so after a restart the list comes from `courses` (kept for good) and
the employee's name from `people`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.portal.domain.views import PortalView
from shared.events import (
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Person,
    PersonUpserted,
)
from tests.samples import referral

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _course(n: int, leader: str = "lead-lars") -> CourseStarted:
    return CourseStarted(occurred_at=AT + timedelta(days=n), course_id=f"c-{n}",
                         referral_id=f"r-{n}", employee_id=f"p-emp{n}", leader_id=leader,
                         start_date=date(2026, 3, 2) + timedelta(days=n))


def _restarted_view() -> PortalView:
    """What a portal rebuilds when the referrals themselves have left `referrals`."""
    view = PortalView()
    view.apply(PersonUpserted(occurred_at=AT, person=Person(person_id="p-emp1", name="Emma")))
    for n in (1, 2, 3):
        view.apply(_course(n))
    view.apply(_course(4, leader="lead-other"))
    view.apply(CourseEnded(occurred_at=AT, course_id="c-2", end_date=date(2026, 6, 1)))
    view.apply(CourseCancelled(occurred_at=AT, course_id="c-3", reason="referral_withdrawn"))
    return view


def test_after_a_restart_the_leader_still_sees_every_referral_that_opened_a_course() -> None:
    rows = _restarted_view().referrals_of("lead-lars")
    assert [(r.referral_id, r.employee_name, status) for r, status in rows] == [
        ("r-3", "", "withdrawn"), ("r-2", "", "course_ended"), ("r-1", "Emma", "course_started")]
    assert rows[-1][0].submitted_at == AT + timedelta(days=1)


def test_the_receipt_of_an_older_referral_is_found_from_its_course() -> None:
    view = _restarted_view()
    row = view.referral_row("r-1")
    assert row is not None and row.leader_id == "lead-lars" and row.course_id == "c-1"
    assert view.referral_row("r-unknown") is None


def test_a_referral_still_on_the_topic_is_listed_once() -> None:
    view = _restarted_view()
    submitted = referral("r-1", leader=referral().leader.model_copy(
        update={"person_id": "lead-lars"}))
    view.apply(submitted)
    rows = view.referrals_of("lead-lars")
    assert [(r.referral_id, s) for r, s in rows if r.referral_id == "r-1"] == [
        ("r-1", "course_started")]
