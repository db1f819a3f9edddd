"""The portal's reports page: who sees which figures, and the CSV."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import TimestampSigner

from services.portal.app import create_app
from services.portal.config import PortalSettings
from services.reporting.domain.figures import Rules
from services.reporting.domain.report import reports_for_year
from shared.calendar import COPENHAGEN
from shared.events import Person, PersonUpserted
from shared.settings import KafkaSettings
from tests.reporting_fixture import AS_OF, CAL, COURSES, ORG

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
LEADER = {"person_id": "lars", "name": "Lars Leder", "email": "lars@example.org"}
USERS = {
    "lead": {"person_id": "lead-tove", "roles": ["team_lead"], "name": "Tove", "email": None},
    "boss": {"person_id": "mgmt-mona", "roles": ["management"], "name": "Mona", "email": None},
    "leader": {**LEADER, "roles": ["leader"]},
    "psychologist": {"person_id": "psy-pia", "roles": ["psychologist"], "name": "Pia",
                     "email": None},
}


def _app(with_reports: bool = True) -> FastAPI:
    app = create_app(PortalSettings(cookie_secure=False),
                     KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    portal = app.state.portal
    if with_reports:
        for report in reports_for_year(COURSES, ORG, 2026, Rules(CAL, AS_OF)):
            portal.reports.apply(report.key.encode(), report.model_dump_json().encode())
    portal.view.apply(PersonUpserted(occurred_at=NOW, person=Person(
        person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk")))
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()),
                                 base_url="http://portal") as c:
        yield c


def _log_in(client: httpx.AsyncClient, who: str) -> None:
    data = base64.b64encode(json.dumps({"user": USERS[who], "csrf": "token"}).encode())
    secret = PortalSettings().session_secret.get_secret_value()
    client.cookies.set("lederkontakt_session", TimestampSigner(secret).sign(data).decode())


async def test_the_team_lead_sees_the_figures_per_psychologist_by_name_and_the_caseload(
        client: httpx.AsyncClient) -> None:
    _log_in(client, "lead")
    page = await client.get("/reports?period=2026-11")
    assert page.status_code == 200
    assert "Nøgletal" in page.text and "Pr. psykolog" in page.text
    assert "Pia Psykolog" in page.text and "psy-1" not in page.text
    assert "Åbne forløb ved periodens slut" in page.text
    assert 'href="/reports"' in page.text  # in the menu
    csv = await client.get("/reports/csv?period=2026-11&audience=team_lead")
    assert csv.status_code == 200 and b";Psykolog;;Pia Psykolog;" in csv.content


async def test_management_sees_only_the_organisations_figures(
        client: httpx.AsyncClient) -> None:
    _log_in(client, "boss")
    page = await client.get("/reports?period=2026-11")
    assert page.status_code == 200
    assert "Nøgletal" in page.text and "Dagtilbud Nord" in page.text
    assert "Pr. psykolog" not in page.text and "Pia Psykolog" not in page.text
    refused = await client.get("/reports/csv?period=2026-11&audience=team_lead")
    assert refused.status_code == 403
    csv = await client.get("/reports/csv?period=2026-Q4")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode()) and b"2026-Q4;I alt;;;30;60,0;" in csv.content
    assert (await client.get("/overview")).status_code == 403


async def test_small_cells_show_as_less_than_five_on_the_page(client: httpx.AsyncClient) -> None:
    _log_in(client, "boss")
    page = await client.get("/reports?period=2026-11")
    assert ">&lt;5<" in page.text


@pytest.mark.parametrize("who", ["leader", "psychologist"])
async def test_other_roles_may_not_see_the_reports(client: httpx.AsyncClient, who: str) -> None:
    _log_in(client, who)
    assert (await client.get("/reports")).status_code == 403
    assert (await client.get("/reports/csv?period=2026-11")).status_code == 403


async def test_a_stranger_is_sent_to_log_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/reports")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/reports"


async def test_before_the_first_report_the_page_says_there_is_none() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(with_reports=False)),
                                 base_url="http://portal") as client:
        _log_in(client, "boss")
        page = await client.get("/reports")
    assert page.status_code == 200 and "ingen rapporter endnu" in page.text


async def test_a_period_that_is_not_one_is_not_found(client: httpx.AsyncClient) -> None:
    _log_in(client, "lead")
    assert (await client.get("/reports?period=last-week")).status_code == 404


def test_a_tombstone_removes_a_report_and_an_unreadable_one_is_skipped() -> None:
    portal = _app().state.portal
    portal.reports.apply(b"management:2026-11", None)
    portal.reports.apply(b"management:2027-01", b'{"period": "2027-01", "shape": "new"}')
    assert "management:2026-11" not in portal.reports.reports
    assert "management:2027-01" not in portal.reports.reports
    assert portal.reports.unreadable == 1

