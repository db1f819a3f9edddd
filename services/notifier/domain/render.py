"""Message texts per kind, channel and language, rendered in a Jinja2 sandbox.

The texts and the facts each kind may use live in the kind catalogue. A template only ever sees
that allow-listed context, and a leader's or employee's message never more than the basic
facts: names, dates, the psychologist's contact details and a course reference.
Nothing from sessions exists in any context, so no template can leak it. A mail to staff ends
with a link to the course page; no other message carries a link.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from services.notifier.domain.gsm7 import segments, to_gsm7
from services.notifier.domain.html import render_html
from services.notifier.domain.ics import Address, Invitation, build_ics, meeting_uid
from shared.calendar import COPENHAGEN
from shared.events import Channel, Language, NotificationKind, NotificationRequested, Person
from shared.notification_kinds import BASIC_FACTS, KINDS, STAFF_ROLES, CalendarMethod
from shared.portal_links import course_page_url

KIND_LABELS = {
    "da": {"start_call": "opstartssamtalen", "follow_up": "opfølgningen",
           "end_contact": "afslutningssamtalen", "three_party_meeting": "trepartssamtalen",
           "plan_review": "opfølgningen på planen", None: "kontakten"},
    "en": {"start_call": "the start call", "follow_up": "the follow-up",
           "end_contact": "the end contact", "three_party_meeting": "the three-party meeting",
           "plan_review": "the plan review", None: "the contact"},
}

GREETING = {"da": "Kære {{ recipient_name }}", "en": "Dear {{ recipient_name }}"}
SIGNATURE = {"da": "Venlig hilsen\nTidlig Indsats", "en": "Kind regards\nTidlig Indsats"}
COURSE_LINK = {"da": "Forløbet i portalen: {url}", "en": "The course in the portal: {url}"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms_segments: int | None = None
    # E-mail only: the same words as an accessible HTML part, and their language.
    html: str | None = None
    language: Language | None = None
    # A meeting's invitation or cancellation (iCalendar), and its METHOD.
    calendar: bytes | None = None
    calendar_method: CalendarMethod | None = None


def _dato(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def _tidspunkt(value: datetime | None, language: Language) -> str:
    """A meeting's time as people in Copenhagen read it, whatever zone it was given in."""
    if value is None:
        return ""
    local = value.astimezone(COPENHAGEN)
    return local.strftime("%d.%m.%Y kl. %H.%M" if language == "da" else "%d.%m.%Y at %H:%M")


def _env(language: Language) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=False)
    env.filters["dato"] = _dato
    env.filters["tidspunkt"] = lambda value: _tidspunkt(value, language)
    env.filters["kind"] = lambda k: KIND_LABELS[language].get(k, KIND_LABELS[language][None])
    return env


ENVIRONMENTS: dict[Language, SandboxedEnvironment] = {"da": _env("da"), "en": _env("en")}


def course_reference(course_id: str | None) -> str:
    return (course_id or "").removeprefix("c-")[:8].upper()


def build_context(request: NotificationRequested, recipient: Person,
                  psychologist: Person | None) -> dict[str, Any]:
    """Every value a template may use, filtered by the facts the kind's catalogue entry allows:
    staff kinds see the contact-point facts, leaders and employees only the allow-listed few."""
    facts = request.facts
    everything: dict[str, Any] = {
        "recipient_name": recipient.name,
        "psychologist_name": psychologist.name if psychologist else "Tidlig Indsats",
        "psychologist_email": psychologist.email if psychologist else None,
        "psychologist_phone": psychologist.phone if psychologist else None,
        "due_date": facts.due_date,
        "course_reference": course_reference(request.course_id),
        "contact_kind": facts.contact_kind,
        "reminder_number": facts.reminder_number,
        "overdue_working_days": facts.overdue_working_days,
        "review_date": facts.review_date,
        "late": request.late,
        "meeting_at": facts.meeting_at,
        "meeting_minutes": facts.meeting_minutes,
        "meeting_sequence": facts.meeting_sequence,
    }
    allowed = KINDS[request.kind].facts if request.recipient_role in STAFF_ROLES else BASIC_FACTS
    return {k: v for k, v in everything.items() if k in allowed}


def course_link(request: NotificationRequested, portal_url: str) -> str | None:
    """Staff (the course's psychologist, a team lead) get a link to the course page; a leader
    or an employee never gets a link to a staff page."""
    if request.recipient_role not in STAFF_ROLES or not request.course_id:
        return None
    return course_page_url(portal_url, request.course_id)


@lru_cache(maxsize=256)
def _compiled(language: Language, source: str) -> Template:
    # Compiling a template costs far more than rendering it; each source is compiled once.
    return ENVIRONMENTS[language].from_string(source)


def render(kind: NotificationKind, language: Language, channel: Channel,
           context: dict[str, Any], link: str | None = None) -> Rendered:
    """The subject and text of a message; an e-mail also gets the greeting, the link (when
    there is one) and the signature. An SMS never carries a link."""
    template = KINDS[kind].templates[language]
    subject_src, text_src = template.subject, template.text
    text = _compiled(language, text_src).render(context)
    subject = _compiled(language, subject_src).render(context)
    if channel == "sms":
        sms = to_gsm7(text)
        return Rendered(subject, sms, segments(sms))
    greeting = _compiled(language, GREETING[language]).render(context)
    link_line = f"\n\n{COURSE_LINK[language].format(url=link)}" if link else ""
    body = f"{greeting}\n\n{text}{link_line}\n\n{SIGNATURE[language]}\n"
    return Rendered(subject, body, html=render_html(language, subject, body), language=language)


def with_invitation(rendered: Rendered, request: NotificationRequested, recipient: Person,
                    organizer: Address) -> Rendered:
    """A mail of a calendar kind carries the meeting as an iCalendar object: its title is the
    kind's event text (the kind of meeting and the course reference), the organiser the
    service's mailbox, the attendee the recipient alone."""
    spec = KINDS[request.kind]
    facts = request.facts
    if (spec.calendar is None or rendered.language is None or recipient.email is None
            or facts.meeting_id is None or facts.meeting_at is None):
        return rendered
    template = spec.templates[rendered.language]
    summary = _compiled(rendered.language, template.event or template.subject).render(
        course_reference=course_reference(request.course_id),
        meeting_at=facts.meeting_at, meeting_minutes=facts.meeting_minutes)
    calendar = build_ics(Invitation(
        uid=meeting_uid(request.course_id or "", facts.meeting_id), method=spec.calendar,
        sequence=facts.meeting_sequence or 0, starts_at=facts.meeting_at,
        minutes=facts.meeting_minutes or 45, summary=summary, organizer=organizer,
        attendee=Address(recipient.email, recipient.name), stamp=request.occurred_at))
    return replace(rendered, calendar=calendar, calendar_method=spec.calendar)
