"""Handlers stay short enough to read in one screen: no function in services/ is longer than
about 40 lines (its def to its last line, nested functions included). A few pieces of plain
data walked in one place (an argument parser, one event dispatch of the rules, one chart) are
allowed their present length, and no more."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIMIT = 40
# Not handlers: tables and dispatches that read best whole. Each may not grow.
ALLOWED = {
    "services/cli.py:build_parser": 52,
    "services/reporting/domain/facts.py:apply_event": 49,
    "services/reporting/domain/charts.py:render_svg": 49,
    "services/portal/domain/views.py:_course_event": 42,
}


def function_lengths(root: Path = REPO / "services") -> list[tuple[int, str]]:
    """(lines, "path:name") of every function and method under `root`, longest first."""
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                found.append((node.end_lineno - node.lineno + 1, f"{where}:{node.name}"))
    return sorted(found, reverse=True)


def test_no_function_in_the_services_is_longer_than_about_forty_lines() -> None:
    too_long = [f"{name}: {lines} lines" for lines, name in function_lengths()
                if lines > ALLOWED.get(name, LIMIT)]
    assert too_long == []


def test_every_allowed_long_function_still_exists() -> None:
    names = {name for _, name in function_lengths()}
    assert set(ALLOWED) <= names
