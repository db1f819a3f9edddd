"""The reports page in a real browser: Debian's Chromium driven by Playwright, checked by
axe-core (no serious or critical violation), its screenshot kept in docs/."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, async_playwright

from services.reporting.domain.figures import Rules
from services.reporting.domain.periods import Period
from services.reporting.domain.report import reports_for_year
from services.reporting.page import render_page
from tests.reporting_fixture import AS_OF, CAL, COURSES, ORG, course

pytestmark = pytest.mark.integration
DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "install Debian's chromium package (scripts/run and .ci/run do)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


def page_html(team_lead: bool) -> str:
    # November's thirty courses and, a month earlier, the same again: a trend of two points.
    october = [course(i).model_copy(update={
        "course_id": f"oct-{i}", "start_date": course(i).start_date.replace(month=10),  # type: ignore[union-attr]
        "referred_on": course(i).start_date.replace(month=10),  # type: ignore[union-attr]
        "stress_related": i < 15}) for i in range(30)]
    reports = {r.key: r for r in reports_for_year([*COURSES, *october], ORG, 2026,
                                                  Rules(CAL, AS_OF))}
    return render_page(reports, Period.parse("2026-11"), team_lead=team_lead,
                       periods=["2026-11", "2026-10", "2026-Q4", "2026"],
                       csv_href="?period=2026-11&format=csv")


@pytest.mark.parametrize("team_lead", [False, True], ids=["management", "team_lead"])
async def test_the_reports_page_passes_axe_in_chromium(browser: Browser, team_lead: bool) -> None:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.set_content(page_html(team_lead))
    assert await page.locator("svg[role=img] title").count() == 2
    assert await page.get_by_role("img", name="Stressrelaterede forløb").count() == 1
    assert await page.locator("td", has_text="<5").count() > 0
    results = await Axe().run(page)
    bad = [(v["id"], v["impact"], v["help"]) for v in results.response["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, bad
    assert requests == [], "the page loads nothing from anywhere"
    if not team_lead:
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "reports-page.png"), full_page=True)
    await context.close()


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[str]:
    """The reporting service's own web app on an ephemeral port, with the fixture's reports."""
    import asyncio

    import uvicorn

    from services.reporting.web import create_web_app

    reports = {r.key: r for r in reports_for_year(COURSES, ORG, 2026, Rules(CAL, AS_OF))}
    server = uvicorn.Server(uvicorn.Config(create_web_app(lambda: reports), host="127.0.0.1",
                                           port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_the_served_page_picks_a_period_and_downloads_the_csv(browser: Browser,
                                                                    served: str) -> None:
    context = await browser.new_context(viewport={"width": 1100, "height": 900},
                                        accept_downloads=True)
    page = await context.new_page()
    await page.goto(f"{served}/reports")
    await page.get_by_label("Periode").select_option("2026-Q4")
    await page.get_by_role("button", name="Vis").click()
    await page.wait_for_url("**period=2026-Q4")
    assert await page.get_by_role("heading", name="Nøgletal").count() == 1
    results = await Axe().run(page)
    bad = [(v["id"], v["impact"]) for v in results.response["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, bad
    async with page.expect_download() as info:
        await page.get_by_role("link", name="CSV").click()
    download = await info.value
    data = Path(await download.path()).read_bytes()
    assert data.startswith("\ufeff".encode()) and b"2026-Q4;I alt;;;30;60,0;" in data
    await context.close()
