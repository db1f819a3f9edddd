"""The portal's pure parts and its guards, without a broker: views, forms, words, CSRF, 413."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from itsdangerous import TimestampSigner

from services.portal.app import create_app
from services.portal.config import PortalSettings
from services.portal.domain.forms import ACTIONS, ActionContext, FormInvalid, referral_from_form
from services.portal.domain.views import PointRow, PortalView, worklist
from services.portal.i18n import TEXTS
from services.reporting.domain.orgunits import OrgUnits
from shared.calendar import COPENHAGEN
from shared.events import (
    ConsentGiven,
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    ConsentWithdrawn,
    CourseStarted,
    LeaderContactLogged,
    MeetingScheduled,
    PsychologistAssigned,
)
from shared.settings import KafkaSettings

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=COPENHAGEN)
LEADER = {"person_id": "lars", "name": "Lars Leder", "email": "lars@example.org"}
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "portal" / "templates"


def test_every_text_has_danish_and_english() -> None:
    for key, (da, en) in TEXTS.items():
        assert da.strip() and en.strip(), key


def test_every_literal_text_key_in_the_templates_exists() -> None:
    for template in TEMPLATES.glob("*.html"):
        for key in re.findall(r'\bt\("([a-z_.\-]+[a-z_\-])"\)', template.read_text()):
            assert key in TEXTS, f"{template.name}: {key}"


def test_an_empty_referral_form_names_each_missing_field() -> None:
    with pytest.raises(FormInvalid) as caught:
        referral_from_form({}, referral_id="web-1", event_id=uuid4(), now=NOW, leader=LEADER,
                           psychologist=None, team_lead=None)
    assert caught.value.errors["employee_name"] == "error.required"
    assert caught.value.errors["workplace"] == "error.required"
    assert caught.value.errors["reason_category"] == "error.choice"


def test_a_referral_without_e_mail_or_phone_says_so_beside_the_e_mail_field() -> None:
    form = {"employee_name": "Anna", "workplace": "Rådhuset", "reason_category": "other"}
    with pytest.raises(FormInvalid) as caught:
        referral_from_form(form, referral_id="web-1", event_id=uuid4(), now=NOW, leader=LEADER,
                           psychologist=None, team_lead=None)
    assert caught.value.errors == {"employee_email": "error.needs_contact"}


def test_a_bad_phone_number_is_an_error_of_the_phone_field() -> None:
    form = {"employee_name": "Anna", "employee_phone": "12", "workplace": "R",
            "reason_category": "other"}
    with pytest.raises(FormInvalid) as caught:
        referral_from_form(form, referral_id="web-1", event_id=uuid4(), now=NOW, leader=LEADER,
                           psychologist=None, team_lead=None)
    assert caught.value.errors == {"employee_phone": "error.phone"}


def test_the_leaders_word_on_the_form_is_only_what_the_leader_says() -> None:
    form = {"employee_name": "Anna", "employee_email": "anna@example.org", "workplace": "R",
            "reason_category": "stress_related"}
    referral = referral_from_form(form, referral_id="web-1", event_id=uuid4(), now=NOW,
                                  leader=LEADER, psychologist=None, team_lead=None)
    assert referral.employee_consents_to_leader_contact is False
    assert referral.leader.person_id == "lars"


def test_a_leader_cannot_state_the_employees_consent_on_the_form() -> None:
    form = {"employee_name": "Anna", "employee_email": "anna@example.org", "workplace": "R",
            "reason_category": "stress_related", "leader_says_employee_agrees": "yes"}
    referral = referral_from_form(form, referral_id="web-1", event_id=uuid4(), now=NOW,
                                  leader=LEADER, psychologist=None, team_lead=None)
    assert referral.employee_consents_to_leader_contact is False


BASE_FORM = {"employee_name": "Anna", "employee_email": "anna@example.org",
             "workplace": "Rådhuset", "reason_category": "stress_related"}


def _unit(**fields: str) -> str | None:
    referral = referral_from_form({**BASE_FORM, **fields}, referral_id="web-1",
                                  event_id=uuid4(), now=NOW, leader=LEADER, psychologist=None,
                                  team_lead=None)
    return referral.unit


def test_the_unit_chosen_from_the_list_is_the_referrals_unit() -> None:
    assert _unit(unit="Vej og Park", unit_other="ignored") == "Vej og Park"


def test_a_unit_not_in_the_list_is_typed_in_and_sent_as_typed() -> None:
    assert _unit(unit="other", unit_other=" Kantinen ") == "Kantinen"
    assert _unit(unit="", unit_other="Kantinen") == "Kantinen"
    assert _unit(unit="") is None


def test_a_typed_unit_that_is_too_long_is_an_error_of_the_typed_field() -> None:
    with pytest.raises(FormInvalid) as caught:
        _unit(unit="other", unit_other="x" * 201)
    assert caught.value.errors == {"unit_other": "error.too_long"}


def test_only_the_employee_can_consent_to_leader_contact_from_the_course_page() -> None:
    context = ActionContext("c-1", uuid4(), NOW)
    with pytest.raises(FormInvalid) as caught:
        ACTIONS["consent"]({"scope": "leader_contact", "party": "leader", "agreed": "yes"}, context)
    assert caught.value.errors == {"party": "error.only_employee"}


def test_a_call_that_did_not_reach_the_leader_is_logged_as_not_reached() -> None:
    event = ACTIONS["log-call"]({"contact_kind": "start_call", "reached": "no"},
                                ActionContext("c-1", uuid4(), NOW))
    assert isinstance(event, LeaderContactLogged) and event.reached is False


def test_each_action_with_a_bad_date_names_the_date_field() -> None:
    context = ActionContext("c-1", uuid4(), NOW)
    for action, field in (("follow-up", "due_date"), ("end", "end_date")):
        with pytest.raises(FormInvalid) as caught:
            ACTIONS[action]({field: "not a date"}, context)
        assert caught.value.errors == {field: "error.date"}


def _course(view: PortalView, course_id: str = "c-1", psychologist: str = "psy-pia") -> None:
    view.apply(CourseStarted(occurred_at=NOW, course_id=course_id, referral_id="r-1",
                             employee_id="anna", leader_id="lars", psychologist_id=psychologist,
                             start_date=NOW.date()))


def test_a_psychologist_sees_only_courses_assigned_to_them_and_reassignment_moves_it() -> None:
    view = PortalView()
    _course(view, "c-1", "psy-pia")
    _course(view, "c-2", "psy-karl")
    assert [c.course_id for c in view.courses_of_psychologist("psy-pia")] == ["c-1"]
    view.apply(PsychologistAssigned(occurred_at=NOW, course_id="c-2", psychologist_id="psy-pia"))
    assert {c.course_id for c in view.courses_of_psychologist("psy-pia")} == {"c-1", "c-2"}
    assert len(view.courses_of_psychologist(None)) == 2


def test_the_employees_own_statement_shows_at_once_and_an_older_record_does_not_undo_it() -> None:
    view = PortalView()
    _course(view)
    view.apply(ConsentGiven(occurred_at=NOW, course_id="c-1", party="employee",
                            scope="leader_contact"))
    assert view.consents["c-1"].allows_leader_contact
    older = ConsentState(leader_contact=ConsentStatement(agreed=False,
                                                         as_of=NOW - timedelta(minutes=1)))
    view.apply(ConsentRecorded(occurred_at=NOW, course_id="c-1", state=older))
    assert view.consents["c-1"].allows_leader_contact
    view.apply(ConsentWithdrawn(occurred_at=NOW + timedelta(minutes=1), course_id="c-1",
                                party="employee", scope="leader_contact"))
    assert not view.consents["c-1"].allows_leader_contact


def test_a_leaders_statement_never_opens_leader_contact_in_the_view() -> None:
    view = PortalView()
    _course(view)
    view.apply(ConsentGiven(occurred_at=NOW, course_id="c-1", party="leader",
                            scope="leader_contact"))
    assert not view.consents["c-1"].allows_leader_contact


def test_the_worklist_sorts_points_into_today_overdue_waiting_and_next() -> None:
    today = date(2026, 12, 2)

    def point(state: str, due_from: date, due_by: date) -> PointRow:
        return PointRow("c-1", f"p-{state}-{due_by}", "start_call", state, due_from, due_by)

    work = worklist([point("due", today, today), point("overdue", date(2026, 11, 27),
                                                       date(2026, 11, 30)),
                     point("blocked", today, today), point("scheduled", date(2026, 12, 7),
                                                           date(2026, 12, 8))], today)
    assert [p.state for p in work.due_today] == ["due"]
    assert [p.state for p in work.overdue] == ["overdue"]
    assert [p.state for p in work.waiting_for_consent] == ["blocked"]
    assert [p.state for p in work.upcoming] == ["scheduled"]


def _client() -> httpx.AsyncClient:
    # No lifespan: the app has no broker here, which is what these guards must not need.
    app = create_app(PortalSettings(cookie_secure=False),
                     KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")


async def test_a_post_without_csrf_token_is_refused_with_403() -> None:
    async with _client() as client:
        await client.get("/login")
        response = await client.post("/language", data={"lang": "en"})
    assert response.status_code == 403
    assert "Formularen er udløbet" in response.text


async def test_a_body_over_64_kib_is_refused_with_413() -> None:
    async with _client() as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        response = await client.post("/language", data={"csrf_token": token[1],
                                                         "x": "a" * (65 * 1024)})
    assert response.status_code == 413


async def test_a_page_for_a_role_sends_a_stranger_to_the_login_page() -> None:
    async with _client() as client:
        response = await client.get("/worklist")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/worklist"


def _session_cookie(session: dict[str, object]) -> str:
    """A session cookie as the portal signs it (what a login leaves in the browser)."""
    data = base64.b64encode(json.dumps(session).encode())
    secret = PortalSettings().session_secret.get_secret_value()
    return TimestampSigner(secret).sign(data).decode()


async def test_an_action_while_kafka_is_unreachable_publishes_nothing_and_says_try_again() -> None:
    leader = {"person_id": "lars", "roles": ["leader"], "name": "Lars Leder",
              "email": "lars@example.org"}
    async with _client() as client:
        client.cookies.set("lederkontakt_session",
                           _session_cookie({"user": leader, "csrf": "token"}))
        response = await client.post("/referrals", data={
            "csrf_token": "token", "form_key": "k1", "employee_name": "Anna Ansat",
            "employee_email": "anna@example.org", "workplace": "Rådhuset",
            "reason_category": "stress_related"})
    assert response.status_code == 503
    assert "Prøv igen om lidt" in response.text and "Intet er gemt" in response.text


async def test_the_referral_form_offers_the_configured_units_by_administration() -> None:
    leader = {**LEADER, "roles": ["leader"]}
    async with _client() as client:
        client.cookies.set("lederkontakt_session", _session_cookie({"user": leader}))
        page = await client.get("/referrals/new")
    org = OrgUnits.from_toml(PortalSettings().org_units.read_text(encoding="utf-8"))
    for admin in org.administrations:
        assert f'<optgroup label="{admin.name}">' in page.text
    for unit in org.units:
        assert f'<option value="{unit}">{unit}</option>' in page.text
    assert '<label for="unit_other">' in page.text


def _meeting_form(**over: str) -> dict[str, str]:
    return {"meeting_kind": "leader_call", "meeting_date": "2026-12-03", "meeting_time": "10:00",
            "duration_minutes": "30", "meeting_id": "new", **over}


def test_the_meeting_form_books_a_call_in_copenhagen_time_under_a_new_id() -> None:
    context = ActionContext("c-1", uuid4(), NOW)
    event = ACTIONS["meeting"](_meeting_form(), context)
    assert isinstance(event, MeetingScheduled)
    assert event.starts_at == datetime(2026, 12, 3, 10, 0, tzinfo=COPENHAGEN)
    assert (event.meeting_kind, event.duration_minutes) == ("leader_call", 30)
    assert event.meeting_id and event.event_id == context.event_id
    moved = ACTIONS["meeting"](_meeting_form(meeting_id=event.meeting_id, meeting_time="13:00"),
                               ActionContext("c-1", uuid4(), NOW))
    assert isinstance(moved, MeetingScheduled) and moved.meeting_id == event.meeting_id


def test_the_meeting_form_refuses_a_time_gone_by_a_bad_time_and_an_unknown_kind() -> None:
    context = ActionContext("c-1", uuid4(), NOW)
    for form, field, key in (
            (_meeting_form(meeting_date="2026-11-30", meeting_time="09:59"), "meeting_date",
             "error.past"),
            (_meeting_form(meeting_time="25:00"), "meeting_time", "error.time"),
            (_meeting_form(meeting_kind="session"), "meeting_kind", "error.choice"),
            (_meeting_form(duration_minutes="600"), "duration_minutes", "error.choice"),
            (_meeting_form(meeting_id="a b"), "meeting_id", "error.choice")):
        with pytest.raises(FormInvalid) as caught:
            ACTIONS["meeting"](form, context)
        assert caught.value.errors == {field: key}, form


def test_the_view_keeps_a_moved_meetings_kind_and_drops_a_cancelled_one() -> None:
    view = PortalView()
    at = datetime(2026, 12, 3, 10, 0, tzinfo=COPENHAGEN)
    view.apply(MeetingScheduled(occurred_at=NOW, course_id="c-1", meeting_id="m-1",
                                meeting_kind="three_party_meeting", starts_at=at))
    view.apply(MeetingScheduled(occurred_at=NOW, course_id="c-1", meeting_id="m-1",
                                meeting_kind="leader_call", starts_at=at + timedelta(hours=2)))
    [meeting] = view.upcoming_meetings("c-1")
    assert (meeting.kind, meeting.starts_at) == ("three_party_meeting", at + timedelta(hours=2))
    view.apply(ACTIONS["meeting-cancel"]({"meeting_id": "m-1"},
                                         ActionContext("c-1", uuid4(), NOW)))
    assert view.upcoming_meetings("c-1") == []
    assert [e.what for e in view.timeline("c-1")] == [
        "meeting.scheduled", "meeting.scheduled", "meeting.cancelled"]
