"""The reporting service on the real broker: the demo's courses flow through the referral
service and the scheduler into the reports; a restart rebuilds from the changelog; a
correction moves a course to another month."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest

from devtools.demo import CASES, MONDAY, START
from devtools.demo import referral as demo_referral
from services.contact_scheduler.app import SchedulerService
from services.referral.app import ReferralService
from services.referral.domain.intake import course_id_for
from services.reporting.adapters.reports_in import read_reports
from services.reporting.app import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.domain.report import Report
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentGiven,
    ConsentWithdrawn,
    CourseEnded,
    CourseStarted,
    Event,
    LeaderContactLogged,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
CLOCK = ManualClock(datetime(2026, 12, 10, 12, tzinfo=COPENHAGEN))


def reporting(kafka: KafkaSettings) -> ReportingService:
    return ReportingService(kafka, ReportingSettings(publish_seconds=0.2), CLOCK)


@pytest.fixture
async def upstream(kafka: KafkaSettings) -> AsyncIterator[None]:
    services = [ReferralService(kafka, clock=CLOCK), SchedulerService(kafka, CLOCK)]
    for s in services:
        await s.start()
    yield
    for s in services:
        await s.stop()


def demo_story(topics: Topics) -> list[tuple[str, Event]]:
    anna, cecilie, dorte = (course_id_for(c) for c in ("demo-anna", "demo-cecilie", "demo-dorte"))
    call, end = MONDAY.replace(hour=10), MONDAY + timedelta(days=1, hours=12)
    return [
        (topics.sessions, ConsentWithdrawn(occurred_at=START, course_id=cecilie, party="employee",
                                           scope="leader_contact")),
        (topics.sessions, LeaderContactLogged(occurred_at=call, course_id=anna,
                                              contact_kind="start_call", at=call)),
        *((topics.sessions, ConsentGiven(occurred_at=call, course_id=dorte, party=p,
                                         scope="three_party_meeting"))
          for p in ("employee", "leader", "psychologist")),
        (topics.sessions, CourseEnded(occurred_at=end, course_id=anna, end_date=end.date())),
    ]


async def report_where(kafka: KafkaSettings, key: str, check: object) -> Report:
    found: dict[str, Report] = {}

    async def poll() -> bool:
        found.update(await read_reports(kafka))
        return key in found and bool(check(found[key]))  # type: ignore[operator]

    for _ in range(150):
        if await poll():
            return found[key]
        await _sleep(0.2)
    raise AssertionError(f"no report {key} as expected; last: {found.get(key)}")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def total(report: Report, figure: str) -> object:
    [row] = [r for r in report.rows if r.level == "total"]
    return row.values[figure]


async def test_the_demos_courses_flow_into_the_reports_and_survive_a_restart(
        kafka: KafkaSettings, topics: Topics, producer: EventProducer, upstream: None) -> None:
    service = reporting(kafka)
    await service.start()
    try:
        await producer.publish_all([(topics.referrals, demo_referral(c, START)) for c in CASES])
        # As in the demo, the story goes on once the courses are open and planned.
        await wait_for(lambda: len(service.view.facts) == 4 and all(
            f.start_call_due_by and f.unit for f in service.view.facts.values()), 60)
        await producer.publish_all(demo_story(topics))
        anna = course_id_for("demo-anna")
        dorte = course_id_for("demo-dorte")
        await wait_for(lambda: service.view.facts[anna].end_date is not None
                       and service.view.facts[dorte].three_party_wished, 60)
        facts = service.view.facts
        assert facts[anna].start_call_done_on == date(2026, 11, 30)
        assert facts[anna].start_call_due_by == date(2026, 12, 1)
        assert facts[anna].unit == "other" and facts[anna].stress_related
        assert not facts[course_id_for("demo-bo")].leader_contact_consent
        assert not facts[course_id_for("demo-cecilie")].leader_contact_consent
        # Four courses: every figure of November is "<5".
        november = await report_where(kafka, "management:2026-11",
                                      lambda r: total(r, "courses_started") == "<5")
        assert {v for row in november.rows for v in row.values.values()} <= {"<5", 0, None}
        # Three more referrals: seven courses, and the figures show.
        more = [demo_referral(c, START).model_copy(update={"referral_id": f"{c.referral_id}-2"})
                for c in CASES[:3]]
        await producer.publish_all([(topics.referrals, r) for r in more])
        # A course may count before its referral's facts (unit, reason) arrive on their own
        # topic; the figures settle once they have.
        await report_where(kafka, "management:2026-11",
                           lambda r: total(r, "courses_started") == 7
                           and total(r, "stress_related_pct") == 100.0)
    finally:
        await service.stop()

    # A restart rebuilds the facts from the changelog, and a correction moves a course.
    again = reporting(kafka)
    await again.start()
    try:
        await wait_for(lambda: len(again.facts) == 7, 30)
        anna_moved = CourseStarted(
            occurred_at=CLOCK.now(), course_id=anna, referral_id="demo-anna", employee_id="e",
            leader_id="l", psychologist_id="psy-pia", start_date=date(2026, 12, 1))
        await producer.publish(topics.courses, anna_moved)
        await wait_for(lambda: (f := again.view.facts.get(anna)) is not None
                       and f.start_date == date(2026, 12, 1), 30)
        # December's one course is hidden, and so is November's 6: with the quarter's 7
        # shown, November would give December away.
        december = await report_where(kafka, "management:2026-12",
                                      lambda r: total(r, "courses_started") == "<5")
        november = await report_where(kafka, "management:2026-11",
                                      lambda r: total(r, "courses_started") == "<5")
        quarter = await report_where(kafka, "management:2026-Q4",
                                     lambda r: total(r, "courses_started") == 7)
        assert total(quarter, "stress_related_pct") == 100.0
        assert december.as_of == date(2026, 12, 10)
    finally:
        await again.stop()
