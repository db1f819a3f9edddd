"""Blocks of the README that are generated from the code (the access table, the data map),
between two markers, so a test can fail when the README no longer says what the code does."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def replaced(text: str, begin: str, end: str, body: str) -> str:
    """`text` with what lies between `begin` and `end` replaced by `body` (markers included)."""
    head, found_begin, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found_begin or not found_end:
        raise ValueError(f"{README} has no generated block between {begin} and {end}")
    return head + body + tail


def write_block(begin: str, end: str, body: str, check: bool = False) -> bool:
    """Write the block into the README, or with `check` say whether it is out of date."""
    text = README.read_text()
    updated = replaced(text, begin, end, body)
    if check:
        return updated != text
    README.write_text(updated)
    return False
