"""The ops page, rendered by headless Chromium (Debian's chromium package) into a screenshot."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest

from devtools.smtp_sink import free_port
from services.ops.page import OpsPage
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ContactPointBlocked,
    ContactPointDue,
    ContactPointOverdue,
    Event,
    NotificationSent,
    NotificationSuppressed,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
TODAY = datetime(2026, 12, 2, 10, 0, tzinfo=COPENHAGEN)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1100,900"]


async def test_the_ops_page_shows_due_overdue_and_outcomes_without_personal_data(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, tmp_path: Path
) -> None:
    def point(cls: type[ContactPointDue | ContactPointOverdue | ContactPointBlocked], course: str,
              kind: str, due_by: date, psy: str) -> Event:
        return cls(occurred_at=TODAY, course_id=course, contact_point_id=kind, kind=kind,
                   due_from=due_by, due_by=due_by, psychologist_id=psy)

    events: list[Event] = [
        point(ContactPointDue, "c-anna", "start_call", date(2026, 12, 2), "psy-pia"),
        point(ContactPointOverdue, "c-ole", "end_contact", date(2026, 11, 27), "psy-pia"),
        point(ContactPointDue, "c-eva", "follow_up", date(2026, 12, 2), "psy-karl"),
        point(ContactPointBlocked, "c-bo", "start_call", date(2026, 12, 3), "psy-karl"),
    ]
    common = dict(occurred_at=TODAY, course_id="c-anna", notification_id="n1",
                  recipient_role="leader")
    events += [NotificationSent(**common, kind="leader_call_coming", channel="email"),
               NotificationSuppressed(**{**common, "course_id": "c-bo"}, kind="leader_call_coming",
                                      reason="no_consent_to_leader_contact")]
    for event in events:
        await producer.publish(topics.for_event(event), event)
    page = OpsPage(kafka, ManualClock(TODAY), free_port())
    await page.start()
    try:
        await wait_for(lambda: len(page.view.points) == 4 and len(page.view.notifications) == 2)
        url = f"http://127.0.0.1:{page.port}/"
        async with httpx.AsyncClient() as client:
            html = (await client.get(url)).text
        chromium = shutil.which("chromium")
        assert chromium, "install Debian's chromium package (.ci/run does)"
        shot = tmp_path / "ops-page.png"
        # The page is served by this event loop, so Chromium must not block it.
        proc = await asyncio.create_subprocess_exec(
            chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}", url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err[-500:]
    finally:
        await page.stop()
    assert "Due today <span class=\"count\">(2)" in html
    assert "Overdue <span class=\"count\">(1)" in html and "c-ole" in html
    assert "Waiting for the employee's consent <span class=\"count\">(1)" in html
    assert "no_consent_to_leader_contact" in html
    assert "@" not in html
    assert shot.stat().st_size > 10_000
    keep = Path(__file__).resolve().parents[2] / ".cache" / "ops-page.png"
    keep.parent.mkdir(exist_ok=True)
    shutil.copy(shot, keep)
