"""Mails to a course's staff link to its course page in the portal; nothing else carries a link,
and a link holds the course id and nothing about a person."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.domain.render import build_context, course_link, render
from services.notifier.handlers import NotifierHandlers
from services.portal.config import PortalSettings
from shared.clock import ManualClock
from shared.events import ConsentState, NotificationFacts, NotificationRequested, Person, encode_event
from shared.notification_kinds import KINDS, STAFF_ROLES, NotificationKind, RecipientRole
from shared.portal_links import DEFAULT_PORTAL_URL, PORTAL_URL_VARIABLE, course_page_url
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, Record, RecordingSender, RecordingSms, members_of, ready_table
from tests.unit.test_notifier_consent_property import AT
from tests.unit.test_portal_pages import _client

PORTAL = "https://portal.tidlig-indsats.dk"
COURSE = "c-7f3a9b2c"
RECIPIENT = Person(person_id="r", name="Rikke Modtager", email="rikke@example.org",
                   phone="+4520304050", reminders="each")
PSYCHOLOGIST = Person(person_id="p", name="Pia", email="pia@tidlig.dk", phone="+4520304051")
AUDIENCE = [(kind, role) for kind, spec in KINDS.items() for role in spec.audience]


def _request(kind: NotificationKind, role: RecipientRole) -> NotificationRequested:
    return NotificationRequested(
        occurred_at=AT, course_id=COURSE, notification_id=f"{COURSE}:n", kind=kind,
        recipient_id="r", recipient_role=role, psychologist_id="p", requires_consent="none",
        facts=NotificationFacts(contact_kind="start_call", due_date=date(2026, 12, 1),
                                reminder_number=1, overdue_working_days=2,
                                review_date=date(2026, 12, 2)))


def _mail(kind: NotificationKind, role: RecipientRole, language: str, channel: str = "email") -> str:
    request = _request(kind, role)
    return render(kind, language, channel,  # type: ignore[arg-type]
                  build_context(request, RECIPIENT, PSYCHOLOGIST), course_link(request, PORTAL)).body


@pytest.mark.parametrize(("kind", "role"), [(k, r) for k, r in AUDIENCE if r in STAFF_ROLES])
def test_every_mail_to_staff_links_to_the_course_page_in_both_languages(
        kind: NotificationKind, role: RecipientRole) -> None:
    for language, words in (("da", "Forløbet i portalen: "), ("en", "The course in the portal: ")):
        body = _mail(kind, role, language)
        assert f"{words}{PORTAL}/courses/{COURSE}\n" in body
        assert body.count("http") == 1


@pytest.mark.parametrize(("kind", "role"), [(k, r) for k, r in AUDIENCE if r not in STAFF_ROLES])
def test_a_leader_or_employee_mail_carries_no_link(kind: NotificationKind,
                                                    role: RecipientRole) -> None:
    assert course_link(_request(kind, role), PORTAL) is None
    for language in ("da", "en"):
        body = _mail(kind, role, language)
        assert "http" not in body and "/courses/" not in body


@pytest.mark.parametrize(("kind", "role"), AUDIENCE)
def test_an_sms_never_carries_a_link(kind: NotificationKind, role: RecipientRole) -> None:
    for language in ("da", "en"):
        text = _mail(kind, role, language, "sms")
        assert "http" not in text and "/courses/" not in text


def test_a_link_names_the_course_page_and_nothing_about_a_person() -> None:
    link = course_link(_request("contact_reminder", "psychologist"), PORTAL + "/")
    assert link == f"{PORTAL}/courses/{COURSE}"
    assert "?" not in link and "#" not in link
    for personal in (RECIPIENT.name, RECIPIENT.email, PSYCHOLOGIST.email, "r", "p"):
        assert personal not in link.removeprefix(f"{PORTAL}/courses/").split("-")
    # Whatever a course id holds, it stays one path segment.
    assert course_page_url(PORTAL, "c-a/b?x=1") == f"{PORTAL}/courses/c-a%2Fb%3Fx%3D1"


def test_a_request_without_a_course_gets_no_link() -> None:
    request = _request("contact_reminder", "psychologist").model_copy(update={"course_id": None})
    assert course_link(request, PORTAL) is None


def test_the_notifier_links_to_the_address_the_portal_is_configured_with(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert NotifierSettings().portal_url == PortalSettings().public_url == DEFAULT_PORTAL_URL
    monkeypatch.setenv(PORTAL_URL_VARIABLE, PORTAL)
    assert NotifierSettings().portal_url == PortalSettings().public_url == PORTAL


def test_the_notifier_sends_the_psychologist_a_mail_with_the_course_link() -> None:
    producer = FakeProducer()
    ledger = ready_table("ledger", producer, LedgerEntry)
    consents: FakeView[ConsentState] = FakeView()
    sender = RecordingSender(consents)
    handlers = NotifierHandlers(Topics(), producer, ledger, FakeView({"r": RECIPIENT, "p": PSYCHOLOGIST}),
                                consents, sender, RecordingSms(), ManualClock(AT),
                                NotifierSettings(portal_url=PORTAL),
                                members_of(COURSE, psychologist_id="r"))
    request = _request("contact_reminder", "psychologist")
    asyncio.run(handlers.on_requests([Record(Topics().notifications_requested,
                                             encode_event(request), COURSE.encode(), 0, 0)]))
    assert sender.addresses == [RECIPIENT.email]
    assert f"{PORTAL}/courses/{COURSE}" in sender.bodies[0]


async def test_the_linked_course_page_asks_a_stranger_to_log_in_and_comes_back_after_it() -> None:
    async with _client() as client:
        response = await client.get(f"/courses/{COURSE}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/courses/{COURSE}"


async def test_following_a_link_to_an_action_does_nothing() -> None:
    # A mail scanner that guesses an action's address gets no page and publishes nothing.
    async with _client() as client:
        response = await client.get(f"/courses/{COURSE}/actions/log-call")
    assert response.status_code == 405
