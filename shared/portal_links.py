"""Addresses of the portal's pages, for everything that links to them (the notifier's mails, a
digest). One setting, `LEDERKONTAKT_PORTAL_PUBLIC_URL`, is both the portal's own address and
the base of every link, so the two cannot drift apart.

A link only names a page: the page asks for a login and comes back to itself after it, and only
a POST changes anything, so a mail scanner following the link does nothing. It carries the
course id, which is pseudonymous, and never a token or anything about a person.
"""

from __future__ import annotations

from urllib.parse import quote

PORTAL_URL_VARIABLE = "LEDERKONTAKT_PORTAL_PUBLIC_URL"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8080"


def course_page_url(portal_url: str, course_id: str) -> str:
    """The course page (`<portal>/courses/<course id>`), for the course's staff."""
    return f"{portal_url.rstrip('/')}/courses/{quote(course_id, safe='')}"
