"""The whole system for browser tests, started once for them: the four services as
processes on the real broker, the SMTP sink, the SMS double, a real OpenID Connect provider,
the portal, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from devtools import portal_stack
from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink, free_port, local_tls, start_sink
from shared.calendar import COPENHAGEN
from shared.clock import ScaledClock
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / ".cache" / "portal-screenshots"
# A Monday morning, whatever day the tests run: the start call of a course opened now is due.
CLOCK_START = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
SERVICES = ("services.referral.app", "services.contact_scheduler.app", "services.notifier.app",
            "services.reporting.app")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@dataclass
class Stack:
    kafka: KafkaSettings
    url: str
    issuer: str
    sink: MailSink
    env: dict[str, str]
    clock: ScaledClock

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def topics(self) -> Topics:
        return Topics(self.kafka.topic_prefix)


# Module scope: started once for the browser tests (all in one module) and stopped before the
# other tests run, so its idle processes never slow down their timing.
@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"portal{uuid.uuid4().hex[:8]}-")
    asyncio.run(create_topics(kafka.aiokafka_kwargs(), Topics(kafka.topic_prefix)))
    server_tls, cafile = local_tls(tmp_path_factory.mktemp("portal-tls"))
    controller, sink = start_sink(server_tls)
    sms = SmsGatewayDouble().start()
    origin = time.time()
    clock = ScaledClock(CLOCK_START, 1, origin)
    oidc_port, portal_port = free_port(), free_port()
    kafka_env = {"LEDERKONTAKT_BOOTSTRAP_SERVERS": kafka_bootstrap,
                 "LEDERKONTAKT_TOPIC_PREFIX": kafka.topic_prefix,
                 "LEDERKONTAKT_CLOCK_START": CLOCK_START.isoformat(),
                 "LEDERKONTAKT_CLOCK_SPEED": "1", "LEDERKONTAKT_CLOCK_ORIGIN": str(origin),
                 "LEDERKONTAKT_HTTP_PORT": "0"}
    env = {**os.environ, **kafka_env, "PYTHONPATH": str(REPO),
           "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(controller.port),
           "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": cafile,
           "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": sms.url,
           "LEDERKONTAKT_NOTIFIER_SMS_TOKEN": sms.token,
           # The links in the staff's mails lead to this portal.
           "LEDERKONTAKT_PORTAL_PUBLIC_URL": f"http://127.0.0.1:{portal_port}",
           # Reports a second after the facts change, so the reports page fills in quickly.
           "LEDERKONTAKT_REPORTING_PUBLISH_SECONDS": "1"}
    log_path = tmp_path_factory.mktemp("portal-logs") / "stack.log"
    log = open(log_path, "ab")
    procs: list[subprocess.Popen[bytes]] = [
        subprocess.Popen([sys.executable, "-m", m], cwd=REPO, env=env, stdout=log,
                         stderr=subprocess.STDOUT) for m in SERVICES]
    try:
        issuer = f"http://127.0.0.1:{oidc_port}"
        procs.append(portal_stack.start_oidc_provider(oidc_port, log=log))
        portal_env = portal_stack.portal_env(portal_port, issuer, kafka_env)
        procs.append(portal_stack.start_portal(portal_env, log=log))
        yield Stack(kafka, f"http://127.0.0.1:{portal_port}", issuer, sink, portal_env, clock)
    finally:
        portal_stack.stop(procs)
        log.close()
        sms.stop()
        controller.stop()
        if os.environ.get("LEDERKONTAKT_SHOW_PORTAL_LOG"):
            print(log_path.read_text(errors="replace")[-20000:])


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "install Debian's chromium package (scripts/run and .ci/run do)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[Any]:
    """A factory of pages, each in a browser context of its own (its own cookies)."""
    contexts = []

    async def make() -> Page:
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(30_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


AXE = Axe()
AXE_REPORT = REPO / ".cache" / "portal-axe.json"


async def check_page(page: Page, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation. Each page's result
    is kept (in .cache/portal-axe.json) and its screenshot taken."""
    results = await AXE.run(page)
    violations = results.response["violations"]
    bad = [(v["id"], v["impact"], v["help"]) for v in violations
           if v["impact"] in ("serious", "critical")]
    lang = await page.evaluate("document.documentElement.lang")
    record = json.loads(AXE_REPORT.read_text()) if AXE_REPORT.exists() else {}
    record[f"{name} ({lang})"] = {"url_path": page.url.split("?")[0].split("/", 3)[-1],
                                  "violations": [(v["id"], v["impact"]) for v in violations],
                                  "passes": len(results.response["passes"])}
    AXE_REPORT.parent.mkdir(parents=True, exist_ok=True)
    AXE_REPORT.write_text(json.dumps(record, indent=1, sort_keys=True))
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}-{lang}.png"), full_page=True)
    assert not bad, f"{name} ({lang}): {bad}"
