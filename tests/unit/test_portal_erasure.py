"""The portal's view forgets an erased person: their record, their name and workplace on the
referrals that named them, the referrals they made as leader; history holds ids, not names."""

from __future__ import annotations

from datetime import date

from services.portal.domain.views import PortalView
from services.referral.domain.intake import course_id_for, person_id_for
from shared.events import (
    CourseStarted,
    Person,
    PersonErased,
    PersonUpserted,
    PsychologistAssigned,
    ReferredPerson,
)
from tests.samples import AT, referral

LEADER = ReferredPerson(person_id="lead-1", name="Lars Leader", email="lars@example.org")


def _view() -> tuple[PortalView, str]:
    view = PortalView()
    opened, waiting = referral("r-1", leader=LEADER), referral(
        "r-2", leader=LEADER, employee=ReferredPerson(name="Emma Employee",
                                                      email="emma@example.org"))
    employee_id = person_id_for(opened.employee)
    course_id = course_id_for("r-1")
    for event in (opened, waiting, PersonUpserted(occurred_at=AT, person=Person(
            person_id=employee_id, **opened.employee.model_dump(exclude={"person_id"}))),
            CourseStarted(occurred_at=AT, course_id=course_id, referral_id="r-1",
                          employee_id=employee_id, leader_id="lead-1", psychologist_id="psy-1",
                          start_date=date(2026, 11, 26)),
            PersonUpserted(occurred_at=AT, person=Person(person_id="psy-1", name="Pia Psykolog",
                                                         email="pia@tidlig.dk")),
            PsychologistAssigned(occurred_at=AT, course_id=course_id, psychologist_id="psy-1")):
        view.apply(event)
    return view, employee_id


def test_an_erased_employees_name_and_workplace_leave_the_leaders_referral_list() -> None:
    view, employee_id = _view()
    assert {r.employee_name for r, _ in view.referrals_of("lead-1")} == {"Emma Employee"}
    view.apply(PersonErased(occurred_at=AT, person_id=employee_id))
    rows = [r for r, _ in view.referrals_of("lead-1")]
    # Both: the one a course was opened from, and the one still waiting for its course.
    assert len(rows) == 2
    assert {(r.employee_name, r.workplace, r.employee_handle) for r in rows} == {("", "", "")}
    assert employee_id not in view.people


def test_an_erased_leaders_referrals_leave_the_view() -> None:
    view, _ = _view()
    view.apply(PersonErased(occurred_at=AT, person_id="lead-1"))
    assert view.referrals_of("lead-1") == []


def test_the_timeline_keeps_the_psychologists_id_not_their_name() -> None:
    view, _ = _view()
    entries = [e for e in view.timeline(course_id_for("r-1")) if e.what == "psychologist.assigned"]
    assert [e.detail for e in entries] == ["psy-1"]
    assert view.name_of("psy-1") == "Pia Psykolog"
    view.apply(PersonErased(occurred_at=AT, person_id="psy-1"))
    assert "Pia" not in repr(view.timelines)
