"""Every kind of notification, as one table: who may receive it, under which consent, which
facts it may state and its texts. The scheduler asks it what consent a request needs, the
notifier's gate asks it again (never trusting the request), and the renderer takes the texts
and the allowed facts from it.

Adding a kind: its name in `NotificationKind`, one `KindSpec` in `KINDS` with a Danish and an
English text, and the rule that requests it. A unit test walks every kind and language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

NotificationKind = Literal[
    "referral_receipt",
    "contact_reminder",
    "consent_discussion_reminder",
    "overdue_escalation",
    "leader_call_coming",
    "three_party_meeting_agreed",
    "plan_review_due",
    "daily_digest",
    "call_scheduled",
    "call_cancelled",
    "three_party_meeting_scheduled",
    "three_party_meeting_cancelled",
]
RecipientRole = Literal["leader", "psychologist", "team_lead", "employee"]
ConsentRequirement = Literal["none", "leader_contact", "three_party_meeting"]
TemplateLanguage = Literal["da", "en"]
CalendarMethod = Literal["REQUEST", "CANCEL"]

# What any message may say to anyone: names, a date (or a meeting's time and length), how to
# reach the psychologist, a reference.
BASIC_FACTS = frozenset({"recipient_name", "psychologist_name", "psychologist_email",
                         "psychologist_phone", "due_date", "course_reference", "meeting_at",
                         "meeting_minutes", "meeting_sequence"})
# Deadlines and consent matters are for staff only.
STAFF_FACTS = BASIC_FACTS | {"contact_kind", "reminder_number", "overdue_working_days",
                             "review_date", "late"}
STAFF_ROLES: frozenset[RecipientRole] = frozenset({"psychologist", "team_lead"})


@dataclass(frozen=True)
class Template:
    """(subject, text) in Jinja2 syntax; the text is the SMS and the body of the e-mail."""

    subject: str
    text: str
    # A calendar kind's event title (SUMMARY and DESCRIPTION): what anyone who glances at the
    # recipient's calendar may read, so the kind of meeting and the course reference only.
    event: str | None = None


@dataclass(frozen=True)
class KindSpec:
    # Each role that may receive the kind, and the consent a message to that role needs.
    audience: Mapping[RecipientRole, ConsentRequirement]
    facts: frozenset[str]
    templates: Mapping[TemplateLanguage, Template]
    # A message about one course, whose recipient must hold the role in that course. A kind
    # that is not (the morning digest) is checked line by line where it is put together.
    per_course: bool = True
    # A meeting in the recipient's calendar: the mail carries an iCalendar object with this
    # METHOD (a mail is the only channel that can).
    calendar: CalendarMethod | None = None


def _staff(da: Template, en: Template) -> KindSpec:
    return KindSpec({"psychologist": "none", "team_lead": "none"}, STAFF_FACTS,
                    {"da": da, "en": en})


def _meeting(audience: Mapping[RecipientRole, ConsentRequirement], method: CalendarMethod,
             da: Template, en: Template) -> KindSpec:
    return KindSpec(audience, BASIC_FACTS, {"da": da, "en": en}, calendar=method)


# A call with the leader concerns the psychologist and the leader: the leader gets it only with
# the employee's consent to leader contact, as any other message.
_CALL: Mapping[RecipientRole, ConsentRequirement] = {"psychologist": "none",
                                                     "leader": "leader_contact"}
# The three-party meeting: as its agreement, anyone but the psychologist only with all three.
_THREE_PARTY: Mapping[RecipientRole, ConsentRequirement] = {
    "psychologist": "none", "leader": "three_party_meeting", "employee": "three_party_meeting"}
_WHEN_DA = "{{ meeting_at | tidspunkt }} ({{ meeting_minutes }} minutter)"
_WHEN_EN = "{{ meeting_at | tidspunkt }} ({{ meeting_minutes }} minutes)"
_CALENDAR_DA = "Invitationen er vedhæftet, så den kan lægges i kalenderen."
_CALENDAR_EN = "The invitation is attached, so it can go into your calendar."
MEETING_KINDS: Mapping[NotificationKind, KindSpec] = {
    "call_scheduled": _meeting(_CALL, "REQUEST", Template(
        "{% if meeting_sequence %}Nyt tidspunkt: {% endif %}Samtale med psykolog "
        "{{ meeting_at | tidspunkt }}",
        "{% if meeting_sequence %}Samtalen er flyttet. {% endif %}Samtale med "
        "{{ psychologist_name }}: " + _WHEN_DA + ". " + _CALENDAR_DA
        + " Reference: {{ course_reference }}.",
        event="Samtale med psykolog (forløb {{ course_reference }})"), Template(
        "{% if meeting_sequence %}New time: {% endif %}Call with the psychologist "
        "{{ meeting_at | tidspunkt }}",
        "{% if meeting_sequence %}The call has moved. {% endif %}Call with "
        "{{ psychologist_name }}: " + _WHEN_EN + ". " + _CALENDAR_EN
        + " Reference: {{ course_reference }}.",
        event="Call with the psychologist (course {{ course_reference }})")),
    "call_cancelled": _meeting(_CALL, "CANCEL", Template(
        "Aflyst: samtale med psykolog {{ meeting_at | tidspunkt }}",
        "Samtalen med {{ psychologist_name }} " + _WHEN_DA + " er aflyst. "
        "Reference: {{ course_reference }}.",
        event="Samtale med psykolog (forløb {{ course_reference }})"), Template(
        "Cancelled: call with the psychologist {{ meeting_at | tidspunkt }}",
        "The call with {{ psychologist_name }} " + _WHEN_EN + " is cancelled. "
        "Reference: {{ course_reference }}.",
        event="Call with the psychologist (course {{ course_reference }})")),
    "three_party_meeting_scheduled": _meeting(_THREE_PARTY, "REQUEST", Template(
        "{% if meeting_sequence %}Nyt tidspunkt: {% endif %}Trepartssamtale "
        "{{ meeting_at | tidspunkt }}",
        "{% if meeting_sequence %}Trepartssamtalen er flyttet. {% endif %}Trepartssamtale med "
        "{{ psychologist_name }}: " + _WHEN_DA + ". " + _CALENDAR_DA
        + " Reference: {{ course_reference }}.",
        event="Trepartssamtale (forløb {{ course_reference }})"), Template(
        "{% if meeting_sequence %}New time: {% endif %}Three-party meeting "
        "{{ meeting_at | tidspunkt }}",
        "{% if meeting_sequence %}The three-party meeting has moved. {% endif %}Three-party "
        "meeting with {{ psychologist_name }}: " + _WHEN_EN + ". " + _CALENDAR_EN
        + " Reference: {{ course_reference }}.",
        event="Three-party meeting (course {{ course_reference }})")),
    "three_party_meeting_cancelled": _meeting(_THREE_PARTY, "CANCEL", Template(
        "Aflyst: trepartssamtale {{ meeting_at | tidspunkt }}",
        "Trepartssamtalen med {{ psychologist_name }} " + _WHEN_DA + " er aflyst. "
        "Reference: {{ course_reference }}.",
        event="Trepartssamtale (forløb {{ course_reference }})"), Template(
        "Cancelled: three-party meeting {{ meeting_at | tidspunkt }}",
        "The three-party meeting with {{ psychologist_name }} " + _WHEN_EN
        + " is cancelled. Reference: {{ course_reference }}.",
        event="Three-party meeting (course {{ course_reference }})")),
}

KINDS: Mapping[NotificationKind, KindSpec] = {
    # The leader made the referral themselves: the receipt needs no employee consent.
    "referral_receipt": KindSpec({"leader": "none"}, BASIC_FACTS, {
        "da": Template(
            "Vi har modtaget din tilmelding",
            "Tak for din tilmelding. En psykolog fra Tidlig Indsats kontakter dig snarest. "
            "Reference: {{ course_reference }}."),
        "en": Template(
            "We have received your referral",
            "Thank you for your referral. A psychologist from the early-intervention team will "
            "contact you soon. Reference: {{ course_reference }}."),
    }),
    "leader_call_coming": KindSpec({"leader": "leader_contact"}, BASIC_FACTS, {
        "da": Template(
            "Psykologen ringer til dig",
            "{{ psychologist_name }} ringer til dig senest {{ due_date | dato }}. "
            "{% if psychologist_phone %}Du kan også ringe på {{ psychologist_phone }}. {% endif %}"
            "Reference: {{ course_reference }}."),
        "en": Template(
            "The psychologist will call you",
            "{{ psychologist_name }} will call you by {{ due_date | dato }}. "
            "{% if psychologist_phone %}You can also call {{ psychologist_phone }}. {% endif %}"
            "Reference: {{ course_reference }}."),
    }),
    # The psychologist arranges the meeting; anyone else hears of it only once all three agree.
    "three_party_meeting_agreed": KindSpec(
        {"leader": "three_party_meeting", "employee": "three_party_meeting",
         "psychologist": "none"}, BASIC_FACTS, {
            "da": Template(
                "Trepartssamtale aftalt",
                "Alle tre parter ønsker en trepartssamtale. {{ psychologist_name }} finder et "
                "tidspunkt senest {{ due_date | dato }}. Reference: {{ course_reference }}."),
            "en": Template(
                "Three-party meeting agreed",
                "All three parties want a three-party meeting. {{ psychologist_name }} will find "
                "a time by {{ due_date | dato }}. Reference: {{ course_reference }}."),
        }),
    "contact_reminder": _staff(
        Template(
            "Påmindelse: {{ contact_kind | kind }} med lederen",
            "{% if late %}(Forsinket) {% endif %}Husk {{ contact_kind | kind }} med lederen "
            "senest {{ due_date | dato }} (påmindelse {{ reminder_number or 1 }}, forløb "
            "{{ course_reference }})."),
        Template(
            "Reminder: {{ contact_kind | kind }} with the leader",
            "{% if late %}(Late) {% endif %}Remember {{ contact_kind | kind }} with the leader "
            "by {{ due_date | dato }} (reminder {{ reminder_number or 1 }}, course "
            "{{ course_reference }}).")),
    "consent_discussion_reminder": _staff(
        Template(
            "Drøft samtykke til lederkontakt",
            "Medarbejderen har endnu ikke givet samtykke til kontakt med lederen. Drøft "
            "samtykket ved næste samtale i stedet for at ringe til lederen (forløb "
            "{{ course_reference }})."),
        Template(
            "Discuss consent to leader contact",
            "The employee has not yet consented to contact with the leader. Discuss consent at "
            "the next session instead of phoning the leader (course {{ course_reference }}).")),
    "overdue_escalation": _staff(
        Template(
            "Overskredet: {{ contact_kind | kind }}",
            "{{ contact_kind | kind | capitalize }} i forløb {{ course_reference }} skulle være "
            "gennemført senest {{ due_date | dato }} og er {{ overdue_working_days }} "
            "arbejdsdage forsinket."),
        Template(
            "Overdue: {{ contact_kind | kind }}",
            "{{ contact_kind | kind | capitalize }} in course {{ course_reference }} was due by "
            "{{ due_date | dato }} and is {{ overdue_working_days }} working days overdue.")),
    "plan_review_due": _staff(
        Template(
            "Planen skal følges op",
            "Planen i forløb {{ course_reference }} skal følges op {{ review_date | dato }}."),
        Template(
            "The plan is due for review",
            "The plan in course {{ course_reference }} is due for review on "
            "{{ review_date | dato }}.")),
    # One mail per staff member and day; its lines are put together at the moment of sending,
    # each from a course whose psychologist (or team lead) the course events name, under that
    # course's consent as it is then. These texts stand only if that cannot be done.
    "daily_digest": KindSpec({"psychologist": "none", "team_lead": "none"}, STAFF_FACTS, {
        "da": Template("Dagens lederkontakter", "Dagens lederkontakter står i portalen."),
        "en": Template("Today's leader contacts", "Today's leader contacts are in the portal."),
    }, per_course=False),
    **MEETING_KINDS,
}
# The kind of message for each kind of meeting, scheduled (or moved) and cancelled.
MEETING_NOTICES: Mapping[tuple[str, bool], NotificationKind] = {
    ("leader_call", False): "call_scheduled", ("leader_call", True): "call_cancelled",
    ("three_party_meeting", False): "three_party_meeting_scheduled",
    ("three_party_meeting", True): "three_party_meeting_cancelled",
}

# The single staff reminders the morning digest carries for those who want it.
DIGESTED_KINDS: frozenset[NotificationKind] = frozenset({
    "contact_reminder", "consent_discussion_reminder", "plan_review_due", "overdue_escalation"})


def required_consent(kind: NotificationKind, role: RecipientRole) -> ConsentRequirement | None:
    """The consent a message of this kind to this role needs, or None when the role is not
    among the kind's audience (such a message is never sent)."""
    spec = KINDS.get(kind)
    return None if spec is None else spec.audience.get(role)
