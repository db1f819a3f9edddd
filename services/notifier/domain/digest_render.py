"""The digest's words, in Danish and English, as plain text and as the HTML part.

A line says which course (its reference, never a name), what to do, by when, and links to the
course page in the portal. Nothing from the sessions exists here to be said.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from services.notifier.domain.digest import SECTIONS, Digest, DigestLine, Section
from services.notifier.domain.html import render_html
from services.notifier.domain.render import (
    GREETING,
    KIND_LABELS,
    SIGNATURE,
    Rendered,
    course_reference,
)
from shared.events import Language
from shared.portal_links import course_page_url

SUBJECT = {"da": "Dagens lederkontakter {date}", "en": "Today's leader contacts {date}"}
INTRO = {"da": "Her er dine lederkontakter for {weekday} {date}.",
         "en": "Here are your leader contacts for {weekday} {date}."}
WEEKDAYS = {"da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
HEADINGS: dict[Language, dict[Section, str]] = {
    "da": {"due_today": "I dag", "overdue": "Overskredet",
           "waiting_for_consent": "Venter på medarbejderens samtykke",
           "upcoming": "De næste fem arbejdsdage", "team_overdue": "Overskredet i teamet"},
    "en": {"due_today": "Due today", "overdue": "Overdue",
           "waiting_for_consent": "Waiting for the employee's consent",
           "upcoming": "The next five working days", "team_overdue": "Overdue in your team"},
}
ACTIONS = {
    "da": {"call_leader": "Ring til lederen ({kind})",
           "discuss_consent": "Drøft samtykke til lederkontakt med medarbejderen ({kind})",
           "hold_meeting": "Hold trepartssamtalen", "review_plan": "Følg op på planen"},
    "en": {"call_leader": "Call the leader ({kind})",
           "discuss_consent": "Discuss consent to leader contact with the employee ({kind})",
           "hold_meeting": "Hold the three-party meeting", "review_plan": "Review the plan"},
}
LINE = {"da": "Forløb {ref}: {action}, senest {due}", "en": "Course {ref}: {action}, by {due}"}
OVERDUE = {"da": " ({days} arbejdsdage forsinket)", "en": " ({days} working days overdue)"}
PSYCHOLOGIST = {"da": ", psykolog {name}", "en": ", psychologist {name}"}


def _date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def line_text(line: DigestLine, language: Language, psychologist_name: str | None) -> str:
    action = ACTIONS[language][line.action].format(kind=KIND_LABELS[language][line.kind])
    text = LINE[language].format(ref=course_reference(line.course_id), action=action,
                                 due=_date(line.due_by))
    if line.section in ("overdue", "team_overdue") and line.overdue_working_days:
        text += OVERDUE[language].format(days=line.overdue_working_days)
    if line.section == "team_overdue" and psychologist_name:
        text += PSYCHOLOGIST[language].format(name=psychologist_name)
    return text


def render_digest(digest: Digest, recipient_name: str, language: Language, portal_url: str,
                  name_of: Callable[[str], str | None] = lambda _: None) -> Rendered:
    """The digest as a mail: the same sections, in the same order, in both parts."""
    day = _date(digest.day)
    subject = SUBJECT[language].format(date=day)
    greeting = GREETING[language].replace("{{ recipient_name }}", recipient_name)
    intro = INTRO[language].format(weekday=WEEKDAYS[language][digest.day.weekday()], date=day)
    blocks = [greeting, intro]
    for name in SECTIONS:
        lines = digest.section(name)
        if not lines:
            continue
        items = [HEADINGS[language][name]]
        for line in lines:
            who = name_of(line.psychologist_id) if line.psychologist_id else None
            items.append(f"- {line_text(line, language, who)}\n"
                         f"  {course_page_url(portal_url, line.course_id)}")
        blocks.append("\n".join(items))
    blocks.append(SIGNATURE[language])
    text = "\n\n".join(blocks) + "\n"
    html = render_html(language, subject, text, frozenset(HEADINGS[language].values()))
    return Rendered(subject, text, html=html, language=language)
