"""Every figure on thirty courses, against values worked out by hand (see the fixture)."""

from __future__ import annotations

from datetime import date

import pytest

from services.reporting.domain.facts import CourseFacts
from services.reporting.domain.figures import Rules
from services.reporting.domain.report import Report, ReportRow, reports_for_year
from tests.reporting_fixture import AS_OF, CAL, COURSES, ORG


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {r.key: r for r in reports_for_year(COURSES, ORG, 2026, Rules(CAL, AS_OF))}


def row(report: Report, level: str, name: str = "") -> ReportRow:
    [found] = [r for r in report.rows if r.level == level and r.name == name]
    return found


def test_every_figure_of_all_courses_in_november(reports: dict[str, Report]) -> None:
    assert row(reports["management:2026-11"], "total").values == {
        "courses_started": 30,
        "stress_related_pct": 60.0,          # 18 / 30
        "sick_leave_pct": 30.0,              # 9 / 30
        "referral_to_start_median": 1.0,     # ten 0s, twelve 1s, eight 2s
        "start_call_on_time_pct": 66.7,      # 20 on time of 30 due (5 late, 5 never)
        "start_call_median": 2.0,            # ten 1s, ten 2s, five 4s: the 13th is 2
        "end_contact_done_pct": 80.0,        # 8 of the 10 ended
        "follow_ups_per_course": 1.5,        # 45 / 30
        "consent_pct": 80.0,                 # 24 / 30
        "three_party_wished": 7,
        "three_party_held": 5,
        "return_to_work_plans": 6,
        "retention_plans": 4,
    }


def test_a_quarter_and_the_year_sum_their_months(reports: dict[str, Report]) -> None:
    november = row(reports["management:2026-11"], "total").values
    assert row(reports["management:2026-Q4"], "total").values == november
    assert row(reports["management:2026"], "total").values == november
    assert row(reports["management:2026-10"], "total").values["courses_started"] == 0


def test_a_unit_and_its_administration(reports: dict[str, Report]) -> None:
    november = reports["management:2026-11"]
    nord = row(november, "unit", "Dagtilbud Nord").values          # courses 0-11
    assert nord["courses_started"] == 12 and nord["stress_related_pct"] == 100.0
    assert nord["sick_leave_pct"] == 33.3                          # 0, 3, 6, 9
    assert row(november, "unit", "Dagtilbud Nord").administration == "Børn og Unge"
    syd = row(november, "unit", "Dagtilbud Syd").values            # courses 12-17
    assert syd["courses_started"] == 6 and syd["consent_pct"] == 100.0
    assert row(november, "administration", "Børn og Unge").values["courses_started"] == 18


def test_four_courses_show_as_under_five_and_their_complement_is_hidden_too(
        reports: dict[str, Report]) -> None:
    november = reports["management:2026-11"]
    assert set(row(november, "unit", "other").values.values()) == {"<5"}
    assert set(row(november, "administration", "other").values.values()) == {"<5"}
    # Shown, the 8 courses of Teknik og Miljø would give away other's 4 as 30 - 18 - 8.
    assert row(november, "administration", "Teknik og Miljø").values["courses_started"] == "<5"
    assert row(november, "unit", "Vej og Park").values["courses_started"] == "<5"


def test_the_team_leads_figures_per_psychologist(reports: dict[str, Report]) -> None:
    team = reports["team_lead:2026-11"]
    assert row(team, "psychologist", "psy-1").values == {
        "courses_started": 15,
        "start_call_on_time_pct": 66.7,      # even i < 20: 10 of 15
        "start_call_median": 2.0,            # five 1s, five 2s, three 4s: the 7th is 2
        "end_contact_done_pct": 80.0,        # 0, 2, 4, 6 of 0, 2, 4, 6, 8
        "follow_ups_per_course": 1.53,       # 8 x 2 + 7 x 1 = 23 / 15
        "caseload": 10,                      # the even i >= 10 are open on 30 November
    }
    assert row(team, "psychologist", "psy-2").values["follow_ups_per_course"] == 1.47  # 22 / 15
    assert row(team, "team").values["caseload"] == 20
    assert "psychologist" not in {r.level for r in reports["management:2026-11"].rows}


def test_a_start_call_not_yet_due_is_neither_on_time_nor_late() -> None:
    start = date(2026, 12, 14)
    fresh = [CourseFacts(course_id=f"n-{i}", referred_on=start, start_date=start, unit="other")
             for i in range(6)]
    [report] = [r for r in reports_for_year(fresh, ORG, 2026, Rules(CAL, date(2026, 12, 15)))
                if r.key == "management:2026-12"]
    values = row(report, "total").values
    assert values["courses_started"] == 6 and values["start_call_on_time_pct"] is None


def _started_dec_22(done: date, i: int) -> CourseFacts:
    start = date(2026, 12, 22)
    return CourseFacts(course_id=f"x-{i}", referred_on=start, start_date=start, unit="other",
                       start_call_done_on=done)


def test_working_day_median_across_christmas() -> None:
    # From Tuesday 22 December 2026: the 23rd is 1; 24-27 are days off; 28th 2, 29th 3,
    # 30th 4; 31 December, New Year's Day and the weekend are off, so 4 January is 5.
    dones = [date(2026, 12, 23), date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30),
             date(2027, 1, 4)]
    facts = [_started_dec_22(d, i) for i, d in enumerate(dones)]
    [report] = [r for r in reports_for_year(facts, ORG, 2026, Rules(CAL, date(2027, 1, 10)))
                if r.key == "management:2026-12"]
    assert row(report, "total").values["start_call_median"] == 3.0  # calendar days: 7


def test_working_day_median_across_easter() -> None:
    # Easter 2027: Maundy Thursday 25 March to Easter Monday 29 March are off. Referred on
    # Wednesday 24 March, started 30 March (1), 31 (2), 1 April (3), 2 (4), 5 (5).
    referred = date(2027, 3, 24)
    starts = [date(2027, 3, 30), date(2027, 3, 31), date(2027, 4, 1), date(2027, 4, 2),
              date(2027, 4, 5)]
    facts = [CourseFacts(course_id=f"e-{i}", referred_on=referred, start_date=s, unit="other")
             for i, s in enumerate(starts)]
    rules = Rules(CAL, date(2027, 6, 1))
    reports = {r.key: r for r in reports_for_year(facts, ORG, 2027, rules)}
    assert row(reports["management:2027-Q2"], "total").values["referral_to_start_median"] == "<5"
    # March has 2 of them (suppressed), April 3: the quarter's 5 hold the figure.
    [q] = [r for r in reports_for_year(facts, ORG, 2027, rules) if r.key == "management:2027"]
    assert row(q, "total").values["referral_to_start_median"] == 3.0
