"""Small-cell suppression: no published number may rest on fewer than 5 courses, neither
directly nor by subtracting published parts from a published total.

A table is cells (row, column) with the number of courses behind each, and equations saying
which cell is the sum of which others (a unit's quarter is the sum of its months, an
administration's month the sum of its units' months...). Primary suppression hides every cell
of 1 to 4 courses. Complementary suppression then hides more until, in every equation, the
hidden cells are either none, or at least two and, when the total is shown, the hidden parts
together hold at least 5 courses: subtraction then only ever reveals a sum of 5 or more.
That rule looks at one equation at a time; a reader can combine several (a unit's months with
the administration's months and the quarters). So the table is then solved as a whole, as a
reader would: while some hidden cell of 1-4 courses can be computed exactly from the shown
cells and all the equations together, one more cell beside it is hidden.
Cells of 0 courses hold nobody and are never hidden."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

MIN_COURSES = 5
C = TypeVar("C", bound=Hashable)
R = TypeVar("R", bound=Hashable)
P = TypeVar("P", bound=Hashable)


@dataclass(frozen=True)
class Equation(Generic[C]):
    total: C
    parts: tuple[C, ...]


def leaks(equation: Equation[C], counts: Mapping[C, int], hidden: set[C]) -> bool:
    """True when this equation lets a reader compute a hidden cell, or a sum of hidden cells
    resting on fewer than 5 courses, from what is shown."""
    hidden_cells = [c for c in (equation.total, *equation.parts) if c in hidden]
    if not hidden_cells:
        return False
    if len(hidden_cells) == 1:
        return True
    if equation.total in hidden:
        return False
    return sum(counts.get(c, 0) for c in hidden_cells) < MIN_COURSES


def suppress(counts: Mapping[C, int], equations: Sequence[Equation[C]]) -> set[C]:
    """The cells to hide: primary (1-4 courses) and complementary, until no equation leaks and
    no small hidden cell can be solved for from all the equations together. The complement
    chosen is the smallest shown part (fewest courses lost to the reader); when no part is
    left, the total itself."""
    hidden: set[C] = {c for c, n in counts.items() if 0 < n < MIN_COURSES}
    while True:
        _close_each_equation(counts, equations, hidden)
        exposed = sorted((c for c in solvable(hidden, equations)
                          if counts.get(c, 0) < MIN_COURSES), key=repr)
        if not exposed or not _hide_beside(exposed, counts, equations, hidden):
            return hidden


def _close_each_equation(counts: Mapping[C, int], equations: Sequence[Equation[C]],
                         hidden: set[C]) -> None:
    changed = True
    while changed:
        changed = False
        for equation in equations:
            if leaks(equation, counts, hidden) and _hide_one_of(equation, counts, hidden):
                changed = True


def _hide_one_of(equation: Equation[C], counts: Mapping[C, int], hidden: set[C]) -> bool:
    """Hide the smallest shown part with courses, else the total; False if nothing is left."""
    candidates = sorted(
        (p for p in equation.parts if p not in hidden and counts.get(p, 0) > 0),
        key=lambda p: (counts.get(p, 0), repr(p)))
    if candidates:
        hidden.add(candidates[0])
        return True
    if equation.total not in hidden:
        hidden.add(equation.total)
        return True
    return False


def _hide_beside(exposed: Sequence[C], counts: Mapping[C, int],
                 equations: Sequence[Equation[C]], hidden: set[C]) -> bool:
    """One more hidden cell near the first exposed cell: the smallest shown cell with courses
    in an equation of it; if those equations have none left (their other cells are hidden or
    hold nobody), in the equations of the hidden cells they reach, and so on outwards."""
    for cell in exposed:
        frontier, seen = {cell}, {cell}
        while frontier:
            reached = [eq for eq in equations if frontier & {eq.total, *eq.parts}]
            shown = {c for eq in reached for c in (eq.total, *eq.parts)
                     if c not in hidden and counts.get(c, 0) > 0}
            if shown:
                hidden.add(min(shown, key=lambda c: (counts.get(c, 0), repr(c))))
                return True
            frontier = {c for eq in reached for c in (eq.total, *eq.parts)
                        if c in hidden and c not in seen}
            seen |= frontier
    return False


# Ranks of small integer matrices over this prime field are their ranks over the rationals.
_PRIME = (1 << 61) - 1


def solvable(hidden: set[C], equations: Sequence[Equation[C]]) -> set[C]:
    """The hidden cells a reader can compute exactly from the shown cells and the equations:
    those whose unit vector lies in the row space of the equations' hidden coefficients. The
    rows are kept in fully reduced form (Gauss-Jordan), sparse, so a pivot row that is a unit
    vector is exactly a solved cell."""
    index = {c: k for k, c in enumerate(sorted(hidden, key=repr))}
    pivots: dict[int, dict[int, int]] = {}
    for equation in equations:
        row: dict[int, int] = {}
        for cell, sign in ((equation.total, 1), *((p, -1) for p in equation.parts)):
            k = index.get(cell)
            if k is not None:
                row[k] = (row.get(k, 0) + sign) % _PRIME
        row = {k: v for k, v in row.items() if v}
        for column in [k for k in row if k in pivots]:
            _subtract(row, pivots[column], row.get(column, 0))
        if not row:
            continue
        lead = min(row)
        inverse = pow(row[lead], _PRIME - 2, _PRIME)
        row = {k: v * inverse % _PRIME for k, v in row.items()}
        for other in pivots.values():
            _subtract(other, row, other.get(lead, 0))
        pivots[lead] = row
    return {cell for cell, k in index.items() if k in pivots and len(pivots[k]) == 1}


def _subtract(row: dict[int, int], pivot: dict[int, int], factor: int) -> None:
    """row -= factor * pivot, dropping the zeros."""
    if not factor:
        return
    for k, v in pivot.items():
        value = (row.get(k, 0) - factor * v) % _PRIME
        if value:
            row[k] = value
        else:
            row.pop(k, None)


def equations_over(rows: Iterable[tuple[R, Sequence[R]]], columns: Iterable[tuple[P, Sequence[P]]],
                   all_rows: Sequence[R], all_columns: Sequence[P]) -> list[Equation[tuple[R, P]]]:
    """The equations of a two-way table: each row total is the sum of its part rows in every
    column, and each column total the sum of its part columns in every row."""
    equations: list[Equation[tuple[R, P]]] = []
    for total, parts in rows:
        for column in all_columns:
            equations.append(Equation((total, column), tuple((p, column) for p in parts)))
    for total_column, part_columns in columns:
        for row in all_rows:
            equations.append(Equation((row, total_column), tuple((row, p) for p in part_columns)))
    return equations
