"""A team lead can give a course only to a psychologist of the staff directory: the form offers
the directory's psychologists, refuses any other id in the user's language, and the portal does
not start without the directory outside development."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from services.portal.app import create_app
from services.portal.config import PortalSettings
from services.portal.domain.forms import TEAM_LEAD_ACTIONS, ActionContext, FormInvalid
from services.portal.domain.views import PortalView
from shared.events import (
    ConsentRecorded,
    ConsentState,
    CourseMembers,
    PsychologistAssigned,
    ReferredPerson,
)
from shared.settings import KafkaSettings
from tests.unit.test_portal_pages import NOW, _course, _session_cookie
from tests.unit.test_staff_directory import TEAM

TEAM_LEAD = {"person_id": "lead-1", "roles": ["team_lead"], "name": "Tove Teamleder",
             "email": "tove@tidlig.dk"}


@pytest.fixture
def staff_file(tmp_path: Path) -> Path:
    path = tmp_path / "staff.toml"
    path.write_text(TEAM)
    return path


def test_the_form_refuses_an_id_that_is_not_a_psychologist_of_the_directory() -> None:
    reassign = TEAM_LEAD_ACTIONS["reassign"]
    context = ActionContext("c-1", uuid4(), NOW, assignable=frozenset({"psy-1"}))
    for stranger in ("mallory", "lead-1", ""):
        with pytest.raises(FormInvalid) as caught:
            reassign({"psychologist_id": stranger}, context)
        assert caught.value.errors == {"psychologist_id": "error.not_a_psychologist"}
    event = reassign({"psychologist_id": "psy-1"}, context)
    assert isinstance(event, PsychologistAssigned) and event.psychologist_id == "psy-1"
    # Development, without a directory: any id, as the referral service then takes it.
    anyone = ActionContext("c-1", uuid4(), NOW)
    anyway = reassign({"psychologist_id": "mallory"}, anyone)
    assert isinstance(anyway, PsychologistAssigned) and anyway.psychologist_id == "mallory"


def _client(settings: PortalSettings, lang: str = "da") -> httpx.AsyncClient:
    """A team lead's browser on a portal (without a broker) that knows one course, c-1."""
    app = create_app(settings, KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    _course(app.state.portal.view, "c-1", "psy-1")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")
    client.cookies.set("lederkontakt_session", _session_cookie(
        {"user": TEAM_LEAD, "csrf": "token", "lang": lang}))
    return client


@pytest.mark.parametrize(("lang", "message"), [
    ("da", "Vælg en psykolog fra teamets personaleliste."),
    ("en", "Choose a psychologist from the team&#39;s staff directory.")])
async def test_a_team_lead_reassigning_to_someone_outside_the_directory_is_told_so(
    staff_file: Path, lang: str, message: str,
) -> None:
    async with _client(PortalSettings(cookie_secure=False, staff_file=staff_file),
                       lang) as client:
        response = await client.post("/courses/c-1/reassign", data={
            "csrf_token": "token", "form_key": "k1", "psychologist_id": "mallory"})
    # Refused before anything is published (the broker here is unreachable: a publish
    # would have answered 503).
    assert response.status_code == 400
    assert message in response.text
    assert 'aria-describedby="reassign-psychologist-error"' in response.text


async def test_the_reassign_form_offers_the_directorys_psychologists_only(
    staff_file: Path,
) -> None:
    karl = ReferredPerson(person_id="karl", name="Karl Udenfor", email="karl@example.org")
    async with _client(PortalSettings(cookie_secure=False, staff_file=staff_file,
                                      psychologists=[karl])) as client:
        page = await client.get("/courses/c-1")
    assert '<option value="psy-1" selected>Pia Psykolog</option>' in page.text
    assert "karl" not in page.text and 'value="lead-1"' not in page.text


async def test_an_assignment_to_someone_outside_the_directory_gives_them_no_course_page(
    staff_file: Path,
) -> None:
    """Written past the form (by the case system, say), it is dead-lettered by the referral
    service; the portal neither moves the course nor opens it to that person."""
    app = create_app(PortalSettings(cookie_secure=False, staff_file=staff_file),
                     KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    view = app.state.portal.view
    _course(view, "c-1", "psy-1")
    view.apply(PsychologistAssigned(occurred_at=NOW, course_id="c-1", psychologist_id="mallory"))
    assert view.courses["c-1"].psychologist_id == "psy-1"
    assert view.courses_of_psychologist("mallory") == []
    assert all(e.what != "psychologist.assigned" for e in view.timelines.get("c-1", []))
    mallory = {"person_id": "mallory", "roles": ["psychologist"], "name": "Mallory",
               "email": "mallory@example.org"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://portal") as client:
        client.cookies.set("lederkontakt_session", _session_cookie(
            {"user": mallory, "csrf": "token", "lang": "da"}))
        page = await client.get("/courses/c-1")
    assert page.status_code == 403
    view.apply(PsychologistAssigned(occurred_at=NOW, course_id="c-1", psychologist_id="psy-1"))
    assert view.courses["c-1"].psychologist_id == "psy-1"


@pytest.mark.parametrize("record_first", [True, False])
def test_the_newest_assignment_wins_whether_from_sessions_or_the_course_record(
    record_first: bool,
) -> None:
    """Rebuilt after its psychologist left the directory, the portal does not give the course
    back to the one before: the course's record, which took the assignment then, names who
    holds it, in whichever order the topics are read."""
    view = PortalView(assignable=frozenset({"psy-1"}))
    then, later = NOW + timedelta(days=1), NOW + timedelta(days=2)
    record = ConsentRecorded(occurred_at=later, course_id="c-1", state=ConsentState(),
                             members=CourseMembers(started=True, psychologist_id="gone",
                                                   assigned_at=later))
    events = [PsychologistAssigned(occurred_at=then, course_id="c-1", psychologist_id="psy-1"),
              PsychologistAssigned(occurred_at=later, course_id="c-1", psychologist_id="gone")]
    if record_first:
        view.apply(record)
        _course(view, "c-1", "psy-1")
    else:
        _course(view, "c-1", "psy-1")
    for event in events:
        view.apply(event)
    if not record_first:
        view.apply(record)
    assert view.courses["c-1"].psychologist_id == "gone"
    assert view.courses_of_psychologist("psy-1") == []


def test_the_portal_does_not_start_without_the_directory_outside_development(
    staff_file: Path, tmp_path: Path,
) -> None:
    reason = PortalSettings(development=False, staff_file=None).refusal()
    assert reason is not None and "LEDERKONTAKT_STAFF_FILE" in reason
    assert PortalSettings(development=True, staff_file=None).refusal() is None
    assert PortalSettings(development=False, staff_file=staff_file).refusal() is None
    missing = PortalSettings(development=True, staff_file=tmp_path / "missing.toml").refusal()
    assert missing is not None and "cannot be read" in missing
    # Every referral would name a psychologist the referral service then refuses.
    stranger = ReferredPerson(person_id="psy-9", name="X", email="x@tidlig.dk")
    wrong = PortalSettings(staff_file=staff_file, intake_psychologist=stranger).refusal()
    assert wrong is not None and "LEDERKONTAKT_PORTAL_INTAKE_PSYCHOLOGIST" in wrong
    pia = ReferredPerson(person_id="psy-1", name="Pia", email="pia@tidlig.dk")
    tove = ReferredPerson(name="Tove", email="tove@tidlig.dk")
    assert PortalSettings(staff_file=staff_file, intake_psychologist=pia,
                          intake_team_lead=tove).refusal() is None
