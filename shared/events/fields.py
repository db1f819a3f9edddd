"""Field types that keep control characters, personal numbers and look-alike text out of events.

Ids are plain tokens. Names and free text are what a person typed, so they are checked for what
must never travel further: a CPR number, an e-mail address (contact details live in their own
fields), and characters that make text read differently than it is (bidi overrides, zero-width
characters, line and paragraph separators).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Any ten digits in a row may be a CPR number, also written with dots in the date and any
# dash (hyphen, non-breaking hyphen, en or em dash), slash, dot or space before the last four.
CPR_SEPARATOR = r"\s*[-\u2010-\u2015\u2212/.]?\s*"
CPR_SHAPED = re.compile(r"(?<!\d)\d{2}\.?\d{2}\.?\d{2}" + CPR_SEPARATOR + r"\d{4}(?!\d)")
EMAIL_SHAPED = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# Unicode categories Cf (format: bidi controls, zero-width joiners and spaces, BOM), Zl and Zp
# (line and paragraph separators), Cc (controls), Co/Cs (private use, surrogates).
_REFUSED_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Cc", "Co", "Cs"})


def no_personal_numbers(value: str) -> str:
    if CPR_SHAPED.search(value):
        raise ValueError("contains a CPR-shaped number")
    return value


# An id may hold these between its digits; "01-01-90-1234" or "010190_1234" is still a CPR number.
_ID_SEPARATORS = re.compile(r"[-_.:/]")


def no_personal_numbers_in_id(value: str) -> str:
    """What free text is refused, and also ten digits in a row once an id's separators are
    taken out."""
    no_personal_numbers(_ID_SEPARATORS.sub("", value))
    return no_personal_numbers(value)


def clean_text(value: str) -> str:
    """Free text is NFC-normalised, trimmed, and refuses CPR numbers, e-mail addresses and
    characters that change how it reads."""
    value = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise ValueError("contains invisible or direction-changing characters")
    no_personal_numbers(value)
    if EMAIL_SHAPED.search(value):
        raise ValueError("contains an e-mail address")
    if not value:
        raise ValueError("is empty")
    return value


Id = Annotated[str, Field(min_length=1, max_length=100, pattern=ID_PATTERN)]
# Ids that come from outside (a referral form, a session system): they refuse CPR numbers too.
ExternalId = Annotated[Id, AfterValidator(no_personal_numbers_in_id)]
LongId = Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]
FreeText = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]
