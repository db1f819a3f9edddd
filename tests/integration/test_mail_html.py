"""The HTML part of the mails in a real browser: Chromium (Debian's) through Playwright, checked
by axe-core on a phone-sized screen. LEDERKONTAKT_UPDATE_SCREENSHOTS=1 also writes the
screenshots to docs/mail/."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import async_playwright

from services.notifier.domain.render import build_context, course_link, render
from shared.calendar import COPENHAGEN
from shared.events import (
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


async def test_the_html_parts_render_in_chromium_on_a_phone_without_serious_violations(
    tmp_path: Path,
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "install Debian's chromium package (scripts/run and .ci/run do)"
    pages = {
        "reminder-da": mail_html("contact_reminder", "psychologist", PIA, "da"),
        "reminder-en": mail_html("contact_reminder", "psychologist", PIA, "en"),
        "leader-call-da": mail_html("leader_call_coming", "leader", LARS, "da"),
    }
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
                await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        finally:
            await browser.close()
    assert found == {name: [] for name in pages}
    # Staff mails link to the course page, as a real link; a leader's mail has no link.
    link = '<a href="https://portal.tidlig-indsats.dk/courses/c-3f9a1c20">'
    assert link in pages["reminder-da"] and "<a " not in pages["leader-call-da"]
    assert max(widths.values()) <= 390  # nothing wider than the phone
    assert requests == []  # no image, font or pixel is fetched from anywhere
    if os.environ.get("LEDERKONTAKT_UPDATE_SCREENSHOTS"):
        (REPO / "docs" / "mail").mkdir(parents=True, exist_ok=True)
        for name in pages:
            shutil.copy(tmp_path / f"{name}.png", REPO / "docs" / "mail" / f"{name}.png")
