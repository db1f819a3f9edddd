"""No published number rests on fewer than 5 courses, directly or through totals."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.domain.anonymity import MIN_COURSES, Equation, leaks, suppress
from services.reporting.domain.facts import CourseFacts
from services.reporting.domain.figures import CASELOAD, FIGURES, Rules
from services.reporting.domain.report import (
    SUPPRESSED,
    Cell,
    Table,
    management_table,
    reports_for_year,
    team_lead_tables,
)
from tests.reporting_fixture import CAL, ORG

UNITS = ["Dagtilbud Nord", "Dagtilbud Syd", "Vej og Park", "other"]
AS_OF = date(2027, 3, 1)


@st.composite
def courses(draw: st.DrawFn) -> list[CourseFacts]:
    n = draw(st.integers(0, 70))
    # A few months only, so cells are small and suppression has work to do.
    months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
    out = []
    for i in range(n):
        start = date(2026, draw(st.sampled_from(months)), draw(st.integers(1, 28)))
        out.append(CourseFacts(
            course_id=f"c-{i}", referred_on=start, start_date=start,
            unit=draw(st.sampled_from(UNITS)),
            psychologist_id=draw(st.sampled_from(["psy-1", "psy-2", "psy-3", None])),
            stress_related=draw(st.booleans()),
            start_call_done_on=start + timedelta(days=draw(st.integers(0, 6))),
            end_date=draw(st.one_of(st.none(), st.just(start + timedelta(days=30)))),
            end_contact_done_on=draw(st.one_of(st.none(), st.just(start + timedelta(days=31)))),
        ))
    return out


PRIME = (1 << 61) - 1  # ranks of small integer matrices over this field are those over Q


def determined(hidden: set[Cell], equations: list[Equation[Cell]]) -> set[Cell]:
    """The hidden cells a reader can solve for exactly from the shown cells and the equations:
    those whose unit vector lies in the row space of the equations' hidden coefficients
    (Gauss-Jordan elimination)."""
    index = {c: k for k, c in enumerate(sorted(hidden, key=repr))}
    pivots: dict[int, list[int]] = {}  # leading column -> reduced row with a 1 there
    for eq in equations:
        row = [0] * len(index)
        for cell, sign in ((eq.total, 1), *((p, -1) for p in eq.parts)):
            if cell in index:
                row[index[cell]] = (row[index[cell]] + sign) % PRIME
        for col, prow in pivots.items():
            if row[col]:
                f = row[col]
                row = [(a - f * b) % PRIME for a, b in zip(row, prow, strict=True)]
        lead = next((k for k, v in enumerate(row) if v), None)
        if lead is None:
            continue
        inverse = pow(row[lead], PRIME - 2, PRIME)
        row = [v * inverse % PRIME for v in row]
        for col, prow in pivots.items():
            if prow[lead]:
                f = prow[lead]
                pivots[col] = [(a - f * b) % PRIME for a, b in zip(prow, row, strict=True)]
        pivots[lead] = row
    # In reduced form, a unit vector e_k is in the row space iff some pivot row is exactly e_k.
    return {cell for cell, k in index.items()
            if k in pivots and sum(1 for v in pivots[k] if v) == 1}


def check_table(table: Table) -> None:
    counts = table.counts()
    for cell, n in counts.items():
        if 0 < n < MIN_COURSES:
            assert cell in table.hidden, cell
    for eq in table.equations:
        assert not leaks(eq, counts, table.hidden), eq
    small = {c for c in table.hidden if counts[c] < MIN_COURSES}
    assert not small & determined(table.hidden, table.equations)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(courses())
def test_no_hidden_small_cell_can_be_worked_out_from_the_shown_cells_and_totals(
        facts: list[CourseFacts]) -> None:
    rules = Rules(CAL, AS_OF)
    check_table(management_table(facts, ORG, 2026, rules))
    cohort, caseload = team_lead_tables(facts, 2026, rules)
    check_table(cohort)
    check_table(caseload)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(courses())
def test_every_published_number_rests_on_at_least_five_courses(facts: list[CourseFacts]) -> None:
    rules = Rules(CAL, AS_OF)
    management = management_table(facts, ORG, 2026, rules)
    cohort, caseload = team_lead_tables(facts, 2026, rules)
    for report in reports_for_year(facts, ORG, 2026, rules):
        for row in report.rows:
            for figure_id, value in row.values.items():
                if value is None or value == SUPPRESSED:
                    continue
                if report.audience == "management":
                    table = management
                else:
                    table = caseload if figure_id == CASELOAD.id else cohort
                [period] = [p for p in table.periods if str(p) == report.period]
                courses_in_cell = table.courses.get(((row.level, row.name), period), [])
                figure = CASELOAD if figure_id == CASELOAD.id else \
                    next(f for f in FIGURES if f.id == figure_id)
                _, base = figure.compute(courses_in_cell)
                assert not courses_in_cell or base >= MIN_COURSES, (report.key, row, figure_id)


def test_a_lone_small_cell_pulls_its_smallest_neighbour_into_hiding() -> None:
    counts = {"total": 17, "a": 3, "b": 6, "c": 8}
    assert suppress(counts, [Equation("total", ("a", "b", "c"))]) == {"a", "b"}


def test_two_hidden_cells_of_fewer_than_five_courses_together_pull_in_a_third() -> None:
    counts = {"total": 12, "a": 1, "b": 2, "c": 9}
    assert suppress(counts, [Equation("total", ("a", "b", "c"))]) == {"a", "b", "c"}


def test_empty_cells_are_shown_and_never_used_as_cover() -> None:
    counts = {"total": 3, "a": 3, "b": 0}
    assert suppress(counts, [Equation("total", ("a", "b"))]) == {"total", "a"}


def test_the_audit_finds_a_cell_given_away_by_a_total() -> None:
    # Shown: total 9 and b 6, so the hidden a is 3; with c hidden too, a is no longer alone.
    assert determined({"a"}, [Equation("total", ("a", "b"))]) == {"a"}  # type: ignore[arg-type]
    assert determined({"a", "c"}, [Equation("total", ("a", "b", "c"))]) == set()  # type: ignore[arg-type]


def _course(i: int, month: int, unit: str) -> CourseFacts:
    start = date(2026, month, 1)
    return CourseFacts(course_id=f"c-{i}", referred_on=start, start_date=start, unit=unit,
                       psychologist_id="psy-1", stress_related=False, start_call_done_on=start)


def test_hidden_cells_stay_hidden_when_a_reader_combines_months_quarters_and_units() -> None:
    # Each equation on its own hides two or more cells, but months, quarters and the other
    # units solved together gave away Dagtilbud Syd's single course.
    spread = ([(1, "Dagtilbud Nord")] * 27 + [(7, "Dagtilbud Nord")] * 4
              + [(4, "Dagtilbud Nord"), (1, "Dagtilbud Syd"), (1, "Vej og Park"),
                 (7, "Dagtilbud Syd")])
    facts = [_course(i, month, unit) for i, (month, unit) in enumerate(spread)]
    rules = Rules(CAL, AS_OF)
    check_table(management_table(facts, ORG, 2026, rules))
    cohort, caseload = team_lead_tables(facts, 2026, rules)
    check_table(cohort)
    check_table(caseload)
