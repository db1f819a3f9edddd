"""Message texts per kind, channel and language, rendered in a Jinja2 sandbox.

A template only ever sees an allow-listed context. What a leader's message can see is a
strict subset: names, dates, the psychologist's contact details and a course reference.
Nothing from sessions exists in any context, so no template can leak it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from services.notifier.domain.gsm7 import segments, to_gsm7
from shared.events import Channel, Language, NotificationKind, NotificationRequested, Person

LEADER_CONTEXT = frozenset({"recipient_name", "psychologist_name", "psychologist_email",
                            "psychologist_phone", "due_date", "course_reference"})
STAFF_CONTEXT = LEADER_CONTEXT | {"contact_kind", "reminder_number", "overdue_working_days",
                                  "review_date", "late"}

KIND_LABELS = {
    "da": {"start_call": "opstartssamtalen", "follow_up": "opfølgningen",
           "end_contact": "afslutningssamtalen", "three_party_meeting": "trepartssamtalen",
           "plan_review": "opfølgningen på planen", None: "kontakten"},
    "en": {"start_call": "the start call", "follow_up": "the follow-up",
           "end_contact": "the end contact", "three_party_meeting": "the three-party meeting",
           "plan_review": "the plan review", None: "the contact"},
}

# (subject, text); the text is the SMS and the body of the e-mail.
TEMPLATES: dict[tuple[NotificationKind, Language], tuple[str, str]] = {
    ("referral_receipt", "da"): (
        "Vi har modtaget din tilmelding",
        "Tak for din tilmelding. En psykolog fra Tidlig Indsats kontakter dig snarest. "
        "Reference: {{ course_reference }}."),
    ("referral_receipt", "en"): (
        "We have received your referral",
        "Thank you for your referral. A psychologist from the early-intervention team will "
        "contact you soon. Reference: {{ course_reference }}."),
    ("leader_call_coming", "da"): (
        "Psykologen ringer til dig",
        "{{ psychologist_name }} ringer til dig senest {{ due_date | dato }}. "
        "{% if psychologist_phone %}Du kan også ringe på {{ psychologist_phone }}. {% endif %}"
        "Reference: {{ course_reference }}."),
    ("leader_call_coming", "en"): (
        "The psychologist will call you",
        "{{ psychologist_name }} will call you by {{ due_date | dato }}. "
        "{% if psychologist_phone %}You can also call {{ psychologist_phone }}. {% endif %}"
        "Reference: {{ course_reference }}."),
    ("three_party_meeting_agreed", "da"): (
        "Trepartssamtale aftalt",
        "Alle tre parter ønsker en trepartssamtale. {{ psychologist_name }} finder et tidspunkt "
        "senest {{ due_date | dato }}. Reference: {{ course_reference }}."),
    ("three_party_meeting_agreed", "en"): (
        "Three-party meeting agreed",
        "All three parties want a three-party meeting. {{ psychologist_name }} will find a time "
        "by {{ due_date | dato }}. Reference: {{ course_reference }}."),
    ("contact_reminder", "da"): (
        "Påmindelse: {{ contact_kind | kind }} med lederen",
        "{% if late %}(Forsinket) {% endif %}Husk {{ contact_kind | kind }} med lederen senest "
        "{{ due_date | dato }} (påmindelse {{ reminder_number or 1 }}, forløb {{ course_reference }})."),
    ("contact_reminder", "en"): (
        "Reminder: {{ contact_kind | kind }} with the leader",
        "{% if late %}(Late) {% endif %}Remember {{ contact_kind | kind }} with the leader by "
        "{{ due_date | dato }} (reminder {{ reminder_number or 1 }}, course {{ course_reference }})."),
    ("consent_discussion_reminder", "da"): (
        "Drøft samtykke til lederkontakt",
        "Medarbejderen har endnu ikke givet samtykke til kontakt med lederen. Drøft samtykket "
        "ved næste samtale i stedet for at ringe til lederen (forløb {{ course_reference }})."),
    ("consent_discussion_reminder", "en"): (
        "Discuss consent to leader contact",
        "The employee has not yet consented to contact with the leader. Discuss consent at the "
        "next session instead of phoning the leader (course {{ course_reference }})."),
    ("overdue_escalation", "da"): (
        "Overskredet: {{ contact_kind | kind }}",
        "{{ contact_kind | kind | capitalize }} i forløb {{ course_reference }} skulle være "
        "gennemført senest {{ due_date | dato }} og er {{ overdue_working_days }} arbejdsdage "
        "forsinket."),
    ("overdue_escalation", "en"): (
        "Overdue: {{ contact_kind | kind }}",
        "{{ contact_kind | kind | capitalize }} in course {{ course_reference }} was due by "
        "{{ due_date | dato }} and is {{ overdue_working_days }} working days overdue."),
    ("plan_review_due", "da"): (
        "Planen skal følges op",
        "Planen i forløb {{ course_reference }} skal følges op {{ review_date | dato }}."),
    ("plan_review_due", "en"): (
        "The plan is due for review",
        "The plan in course {{ course_reference }} is due for review on {{ review_date | dato }}."),
}
GREETING = {"da": "Kære {{ recipient_name }}", "en": "Dear {{ recipient_name }}"}
SIGNATURE = {"da": "Venlig hilsen\nTidlig Indsats", "en": "Kind regards\nTidlig Indsats"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms_segments: int | None = None


def _dato(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def _env(language: Language) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=False)
    env.filters["dato"] = _dato
    env.filters["kind"] = lambda k: KIND_LABELS[language].get(k, KIND_LABELS[language][None])
    return env


ENVIRONMENTS: dict[Language, SandboxedEnvironment] = {"da": _env("da"), "en": _env("en")}


def course_reference(course_id: str | None) -> str:
    return (course_id or "").removeprefix("c-")[:8].upper()


def build_context(request: NotificationRequested, recipient: Person,
                  psychologist: Person | None) -> dict[str, Any]:
    """Every value a template may use, filtered by the recipient's role: staff see the
    contact-point facts, leaders and employees only the allow-listed few."""
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
    }
    allowed = STAFF_CONTEXT if request.recipient_role in ("psychologist", "team_lead") \
        else LEADER_CONTEXT
    return {k: v for k, v in everything.items() if k in allowed}


@lru_cache(maxsize=256)
def _compiled(language: Language, source: str) -> Template:
    # Compiling a template costs far more than rendering it; each source is compiled once.
    return ENVIRONMENTS[language].from_string(source)


def render(kind: NotificationKind, language: Language, channel: Channel,
           context: dict[str, Any]) -> Rendered:
    subject_src, text_src = TEMPLATES[(kind, language)]
    text = _compiled(language, text_src).render(context)
    subject = _compiled(language, subject_src).render(context)
    if channel == "sms":
        sms = to_gsm7(text)
        return Rendered(subject, sms, segments(sms))
    greeting = _compiled(language, GREETING[language]).render(context)
    return Rendered(subject, f"{greeting}\n\n{text}\n\n{SIGNATURE[language]}\n")
