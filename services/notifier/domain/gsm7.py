"""SMS text within the GSM 03.38 alphabet, and its segment count."""

from __future__ import annotations

import unicodedata

BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = set("^{}\\[~]|€\f")
REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
    "\t": " ", "\u2022": "-",
}


def to_gsm7(text: str) -> str:
    """Typographic quotes and dashes become plain ones; æøå and other GSM letters are kept;
    accents outside the alphabet are dropped; anything else becomes '?'."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        char = REPLACEMENTS.get(char, char)
        if all(c in BASIC or c in EXTENDED for c in char):
            out.append(char)
            continue
        base = unicodedata.normalize("NFD", char)[0]
        out.append(base if base in BASIC else "?")
    return "".join(out)


def septets(text: str) -> int:
    return sum(2 if c in EXTENDED else 1 for c in text)


def segments(text: str) -> int:
    """160 septets fit one SMS; a longer text is split into parts of 153."""
    n = septets(text)
    return 1 if n <= 160 else -(-n // 153)
