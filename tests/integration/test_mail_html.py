"""The HTML part of the mails, the morning digest's too, in a real browser: Chromium (Debian's)
through Playwright, checked by axe-core on a phone-sized screen.
LEDERKONTAKT_UPDATE_SCREENSHOTS=1 also writes the screenshots to docs/mail/."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import async_playwright

from services.notifier.domain.digest import CourseContacts, OpenPoint, build_digest
from services.notifier.domain.digest_render import render_digest
from services.notifier.domain.render import build_context, course_link, render
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.events import (
    ConsentState,
    ConsentStatement,
    Language,
    NotificationFacts,
    NotificationKind,
    NotificationRequested,
    Person,
    RecipientRole,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
AT = datetime(2026, 11, 30, 8, 30, tzinfo=COPENHAGEN)
PIA = Person(person_id="psy", name="Pia Psykolog", email="pia@tidlig.dk", phone="+4522334455")
LARS = Person(person_id="lead", name="Lars Leder", email="lars@example.org")


def mail_html(kind: NotificationKind, role: RecipientRole, recipient: Person,
              language: Language) -> str:
    request = NotificationRequested(
        occurred_at=AT, course_id="c-3f9a1c20", notification_id="n", kind=kind,
        recipient_id=recipient.person_id, recipient_role=role, requires_consent="none",
        facts=NotificationFacts(contact_kind="start_call", due_date=date(2026, 12, 2),
                                reminder_number=1))
    html = render(kind, language, "email", build_context(request, recipient, PIA),
                  course_link(request, "https://portal.tidlig-indsats.dk")).html
    assert html is not None
    return html


def digest_html(recipient_id: str, language: Language) -> str:
    """A Monday's digest with a line in every section: due today, overdue, waiting for the
    employee's consent, the next five working days (and, for the team lead, the team's overdue
    points)."""
    monday = date(2026, 11, 30)
    yes = ConsentState(leader_contact=ConsentStatement(agreed=True, as_of=AT))
    courses = [
        CourseContacts("c-3f9a1c20", "psy", "tl", (
            OpenPoint("start_call", "start_call", monday, monday),)),
        CourseContacts("c-81b0e7d4", "psy", "tl", (
            OpenPoint("end_contact", "end_contact", date(2026, 11, 18), date(2026, 11, 25)),)),
        CourseContacts("c-55c2aa10", "psy", "tl", (
            OpenPoint("start_call", "start_call", monday, date(2026, 12, 2), True),)),
        CourseContacts("c-0d4471ee", "psy", "tl", (
            OpenPoint("plan_review:p", "plan_review", date(2026, 12, 3), date(2026, 12, 3)),)),
    ]
    consent = {c.course_id: yes for c in courses if c.course_id != "c-55c2aa10"}
    digest = build_digest(recipient_id, monday, courses, consent.get, WorkingDayCalendar())
    html = render_digest(digest, PIA.name if recipient_id == "psy" else "Tove Teamleder",
                         language, "https://portal.tidlig-indsats.dk",
                         {"psy": PIA.name}.get).html
    assert html is not None
    return html


async def test_the_html_parts_render_in_chromium_on_a_phone_without_serious_violations(
    tmp_path: Path,
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "install Debian's chromium package (scripts/run and .ci/run do)"
    pages = {
        "reminder-da": mail_html("contact_reminder", "psychologist", PIA, "da"),
        "reminder-en": mail_html("contact_reminder", "psychologist", PIA, "en"),
        "leader-call-da": mail_html("leader_call_coming", "leader", LARS, "da"),
        "digest-da": digest_html("psy", "da"),
        "digest-en": digest_html("psy", "en"),
        "digest-team-lead-da": digest_html("tl", "da"),
    }
    headings: dict[str, list[str]] = {}
    requests: list[str] = []
    found: dict[str, list[tuple[str, str]]] = {}
    widths: dict[str, int] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.on("request", lambda r: requests.append(r.url))
            for name, html in pages.items():
                await page.set_content(html)
                results = await Axe().run(page)
                found[name] = [(v["id"], v["impact"]) for v in results.response["violations"]
                               if v["impact"] in ("serious", "critical")]
                widths[name] = await page.evaluate("document.documentElement.scrollWidth")
                headings[name] = await page.evaluate(
                    "[...document.querySelectorAll('h1, h2')].map(h => h.tagName)")
                await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        finally:
            await browser.close()
    assert found == {name: [] for name in pages}
    # Staff mails link to the course page, as a real link; a leader's mail has no link.
    link = '<a href="https://portal.tidlig-indsats.dk/courses/c-3f9a1c20">'
    assert link in pages["reminder-da"] and "<a " not in pages["leader-call-da"]
    # The digest: one h1 (the subject), a h2 per section with its lines as a list, each line
    # a real link to its course page.
    assert headings["digest-da"] == ["H1", "H2", "H2", "H2", "H2"]
    assert headings["digest-team-lead-da"] == ["H1", "H2"]
    for course in ("c-3f9a1c20", "c-81b0e7d4", "c-55c2aa10", "c-0d4471ee"):
        assert f'<a href="https://portal.tidlig-indsats.dk/courses/{course}">' in pages[
            "digest-da"]
    assert "<ul>" in pages["digest-da"] and "<li>" in pages["digest-da"]
    assert max(widths.values()) <= 390  # nothing wider than the phone
    assert requests == []  # no image, font or pixel is fetched from anywhere
    if os.environ.get("LEDERKONTAKT_UPDATE_SCREENSHOTS"):
        (REPO / "docs" / "mail").mkdir(parents=True, exist_ok=True)
        for name in pages:
            shutil.copy(tmp_path / f"{name}.png", REPO / "docs" / "mail" / f"{name}.png")
