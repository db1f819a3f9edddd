"""Small-cell suppression: no published number may rest on fewer than 5 courses, neither
directly nor by subtracting published parts from a published total.

A table is cells (row, column) with the number of courses behind each, and equations saying
which cell is the sum of which others (a unit's quarter is the sum of its months, an
administration's month the sum of its units' months...). Primary suppression hides every cell
of 1 to 4 courses. Complementary suppression then hides more until, in every equation, the
hidden cells are either none, or at least two and, when the total is shown, the hidden parts
together hold at least 5 courses: subtraction then only ever reveals a sum of 5 or more.
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
    """The cells to hide: primary (1-4 courses) and complementary, until no equation leaks.
    The complement chosen is the smallest shown part (fewest courses lost to the reader);
    when no part is left, the total itself."""
    hidden: set[C] = {c for c, n in counts.items() if 0 < n < MIN_COURSES}
    changed = True
    while changed:
        changed = False
        for equation in equations:
            if not leaks(equation, counts, hidden):
                continue
            candidates = sorted(
                (p for p in equation.parts if p not in hidden and counts.get(p, 0) > 0),
                key=lambda p: (counts.get(p, 0), repr(p)))
            if candidates:
                hidden.add(candidates[0])
            elif equation.total not in hidden:
                hidden.add(equation.total)
            else:  # every part with courses is hidden already; nothing more can be done
                continue
            changed = True
    return hidden


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
