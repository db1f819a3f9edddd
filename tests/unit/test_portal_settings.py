"""Staff's settings page: the choice of reminders, without a broker."""

from __future__ import annotations

import re
from datetime import timedelta

from services.portal.domain.views import PortalView
from shared.events import Person, PersonErased, PersonUpserted, RemindersChosen
from tests.unit.test_portal_pages import NOW, _client, _session_cookie

PIA = {"person_id": "psy-pia", "roles": ["psychologist"], "name": "Pia Psykolog",
       "email": "pia@tidlig.dk"}


def test_staff_who_stated_nothing_get_the_digest_and_the_latest_statement_counts() -> None:
    view = PortalView()
    assert view.reminders_of("psy-pia") == "digest"
    person = Person(person_id="psy-pia", name="Pia", email="pia@tidlig.dk")
    view.apply(PersonUpserted(occurred_at=NOW, person=person))
    assert view.reminders_of("psy-pia") == "digest"
    # Her own choice shows at once, before the referral service has written it on `people`.
    view.apply(RemindersChosen(occurred_at=NOW + timedelta(minutes=1), person_id="psy-pia",
                               reminders="each", name="Pia"))
    assert view.reminders_of("psy-pia") == "each"
    # An older record read later does not undo it; a newer one that states otherwise does.
    view.apply(PersonUpserted(occurred_at=NOW, person=person.model_copy(
        update={"reminders": "digest"})))
    assert view.reminders_of("psy-pia") == "each"
    view.apply(PersonUpserted(occurred_at=NOW + timedelta(minutes=2), person=person.model_copy(
        update={"reminders": "digest"})))
    assert view.reminders_of("psy-pia") == "digest"
    view.apply(PersonErased(occurred_at=NOW, person_id="psy-pia"))
    assert "psy-pia" not in view.reminders


async def test_the_settings_page_offers_both_choices_in_a_labelled_group() -> None:
    async with _client() as client:
        client.cookies.set("lederkontakt_session", _session_cookie({"user": PIA}))
        page = await client.get("/settings")
    assert page.status_code == 200
    assert "<legend>Sådan vil jeg have mine påmindelser</legend>" in page.text
    assert re.search(r'<label for="reminders-digest"><input type="radio" id="reminders-digest" '
                     r'name="reminders" value="digest" checked> Én samlet mail om morgenen',
                     page.text)
    assert 'value="each"> Hver besked for sig' in page.text
    assert '<a href="/settings">Indstillinger</a>' in page.text


async def test_only_staff_have_a_settings_page() -> None:
    leader = {**PIA, "person_id": "lars", "roles": ["leader"]}
    async with _client() as client:
        assert (await client.get("/settings")).headers["location"] == "/login?next=/settings"
        client.cookies.set("lederkontakt_session", _session_cookie({"user": leader}))
        assert (await client.get("/settings")).status_code == 403
        assert '/settings"' not in (await client.get("/")).text


async def test_a_choice_needs_the_csrf_token_and_one_of_the_two_values() -> None:
    async with _client() as client:
        client.cookies.set("lederkontakt_session",
                           _session_cookie({"user": PIA, "csrf": "token"}))
        assert (await client.post("/settings", data={"reminders": "each"})).status_code == 403
        assert (await client.post("/settings", data={"csrf_token": "token",
                                                     "reminders": "weekly"})).status_code == 400
        # A good choice goes to Kafka, here unreachable: nothing saved, and the page says so.
        response = await client.post("/settings", data={"csrf_token": "token",
                                                        "form_key": "k", "reminders": "each"})
    assert response.status_code == 503 and "Prøv igen om lidt" in response.text
