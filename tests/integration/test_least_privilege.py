"""With the broker's authorizer on, each service works under its own principal with only the
ACLs the access table gives it; the notifier cannot read referrals; SSL subscribers present
their client certificate."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from devtools import kafka_broker
from devtools.secure_broker import ADMIN, SecureBroker, prepare, start
from devtools.smtp_sink import MailSink
from services.contact_scheduler.app import SchedulerService
from services.notifier.app import NotifierService
from services.notifier.config import NotifierSettings
from services.ops.acls import apply_acls
from services.ops.dlq import read_dlq, replay_checked
from services.ops.erasure import erase
from services.ops.tail import tail
from services.portal.app import create_app
from services.portal.config import PortalSettings
from services.referral.app import ReferralService
from services.referral.domain.intake import DEVELOPMENT_ID_KEY, course_id_for, person_id_for
from services.reporting.app import ReportingService
from services.reporting.config import ReportingSettings
from shared.access import ACCESS, INTAKE, OPERATOR, PORTAL, REPLAY, Acl, all_acls
from shared.clock import ManualClock
from shared.events import ReferredPerson, encode_event
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.integration.helpers import read_events, wait_for
from tests.samples import referral

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
PREFIX = "acl-"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", REPO / ".cache" / "kafka"))
    broker = prepare(root, tmp_path_factory.mktemp("secure"))
    # A loaded CI machine can take minutes to start a broker with four listeners.
    start(broker, timeout=300)
    try:
        yield broker
    finally:
        kafka_broker.stop(broker.home)
        kafka_broker.reset(broker.home)


def sasl(broker: SecureBroker, principal: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=broker.sasl_bootstrap, security_protocol="SASL_SSL",
                         sasl_mechanism="SCRAM-SHA-512", sasl_username=principal,
                         sasl_password=broker.passwords[principal],  # type: ignore[arg-type]
                         ssl_cafile=str(broker.cafile), topic_prefix=PREFIX,
                         client_id=principal)


def certificate(broker: SecureBroker, principal: str) -> KafkaSettings:
    cert, key = broker.client_cert(principal)
    return KafkaSettings(bootstrap_servers=broker.ssl_bootstrap, security_protocol="SSL",
                         ssl_cafile=str(broker.cafile), ssl_certfile=str(cert),
                         ssl_keyfile=str(key), topic_prefix=PREFIX, client_id=principal)


@pytest.fixture(scope="module")
async def acls_applied(secure_broker: SecureBroker) -> SecureBroker:
    admin = sasl(secure_broker, ADMIN)
    await create_topics(admin.aiokafka_kwargs(), Topics(PREFIX))
    await apply_acls(admin.aiokafka_kwargs(), all_acls(Topics(PREFIX)))
    # ACLs reach the broker with the controller's metadata records: wait until the notifier's
    # idempotent producer (allowed by its WRITE on a topic) may start.
    notifier = sasl(secure_broker, ACCESS["notifier"].principal).aiokafka_kwargs()
    for _ in range(120):
        producer = EventProducer(notifier)
        try:
            await producer.start()
            break
        except ClusterAuthorizationFailedError:
            await asyncio.sleep(0.5)
        finally:
            await producer.stop()
    return secure_broker


async def test_acls_apply_revokes_what_the_table_no_longer_gives(
    acls_applied: SecureBroker,
) -> None:
    admin = sasl(acls_applied, ADMIN).aiokafka_kwargs()
    table = all_acls(Topics(PREFIX))
    dropped = Acl(ACCESS["notifier"].principal, "topic", f"{PREFIX}referrals", "read")
    foreign = Acl("someone-else", "topic", f"{PREFIX}referrals", "read")
    await apply_acls(admin, [*table, dropped, foreign], PREFIX)
    changes = await apply_acls(admin, table, PREFIX)
    # The notifier's entry goes; a principal the table does not name keeps its own.
    assert [(e.principal, e.name, str(e).split()[1]) for e in changes.revoked] == [
        ("User:lederkontakt-notifier", f"{PREFIX}referrals", "read")]
    assert (await apply_acls(admin, table, PREFIX)).revoked == []


async def _may_not_read(acls_applied: SecureBroker, topic: str) -> None:
    notifier = sasl(acls_applied, ACCESS["notifier"].principal)
    # In its own consumer group, as the service would subscribe.
    consumer = AIOKafkaConsumer(f"{PREFIX}{topic}", **notifier.aiokafka_kwargs(),
                                group_id=f"{PREFIX}notifier", enable_auto_commit=False)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(consumer.start(), 30)
            for _ in range(20):
                await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


async def test_the_notifiers_principal_may_not_read_courses_or_sessions(
    acls_applied: SecureBroker,
) -> None:
    """It knows a course's people from the consents record, by id: what anyone writes about a
    course is none of its business."""
    for topic in ("courses", "sessions"):
        await _may_not_read(acls_applied, topic)


async def test_the_notifiers_principal_may_not_read_referrals(acls_applied: SecureBroker) -> None:
    await _may_not_read(acls_applied, "referrals")
    notifier = sasl(acls_applied, ACCESS["notifier"].principal)
    # Nor may it write people or consents (which would redirect mail or grant consent).
    producer = EventProducer(notifier.aiokafka_kwargs())
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await asyncio.wait_for(producer.send(f"{PREFIX}consents", b"{}", "c-1"), 30)
    finally:
        await producer.stop()


async def test_each_service_runs_its_path_under_its_own_principal(
    acls_applied: SecureBroker, smtp: tuple[MailSink, int], notifier_settings: NotifierSettings,
) -> None:
    topics = Topics(PREFIX)
    clock = ManualClock(datetime(2026, 11, 26, 9, 5, tzinfo=timezone.utc))
    referral_service = ReferralService(sasl(acls_applied, ACCESS["referral"].principal),
                                       clock=clock)
    scheduler = SchedulerService(sasl(acls_applied, ACCESS["contact-scheduler"].principal), clock,
                                 tick_interval=0.1)
    # The notifier connects over SSL with its client certificate, subscribers included.
    notifier = NotifierService(certificate(acls_applied, ACCESS["notifier"].principal),
                               notifier_settings, clock)
    for service in (referral_service, scheduler, notifier):
        await service.start()
    intake = EventProducer(sasl(acls_applied, INTAKE.principal).aiokafka_kwargs())
    await intake.start()
    try:
        await intake.send(topics.referrals, encode_event(referral("r-acl")), "r-acl")
        await wait_for(lambda: any(m.recipients == ["lars@example.org"] for m in smtp[0].mails),
                       timeout=60)
        await wait_for(lambda: scheduler.plans.get(course_id_for("r-acl")) is not None,
                       timeout=30)
    finally:
        await intake.stop()
        for service in (notifier, scheduler, referral_service):
            await service.stop()
    operator = sasl(acls_applied, "lederkontakt-operator")
    statuses = await read_events(operator, topics.notifications_status, expect=1)
    assert [s.type for s in statuses][:1] == ["notification.sent"]  # type: ignore[attr-defined]


async def test_reporting_the_portal_and_the_operator_commands_run_under_their_principals(
    acls_applied: SecureBroker,
) -> None:
    topics = Topics(PREFIX)
    clock = ManualClock(datetime(2026, 11, 26, 9, 5, tzinfo=timezone.utc))
    referral_service = ReferralService(sasl(acls_applied, ACCESS["referral"].principal),
                                       clock=clock)
    reporting = ReportingService(sasl(acls_applied, ACCESS["reporting"].principal),
                                 ReportingSettings(publish_seconds=0.2), clock)
    portal = create_app(PortalSettings(), sasl(acls_applied, PORTAL.principal), clock)
    course_id = course_id_for("r-acl-portal")
    for service in (referral_service, reporting):
        await service.start()
    try:
        async with portal.router.lifespan_context(portal):
            await _portal_path(portal.state.portal, topics, course_id)
            await wait_for(lambda: reporting.facts.get(course_id) is not None, timeout=30)
            await _operator_commands(acls_applied, topics, course_id, referral_service)
    finally:
        for service in (reporting, referral_service):
            await service.stop()


async def _portal_path(portal: Any, topics: Topics, course_id: str) -> None:
    """The portal publishes a referral (as its form does) and reads it back, with the course
    the referral service opened from it, into its view."""
    await wait_for(lambda: portal.publisher.connected.is_set(), timeout=60)
    written = await portal.publisher.publish(topics.referrals, referral("r-acl-portal"))
    assert await portal.publisher.until_seen(written, 30)
    await wait_for(lambda: course_id in portal.view.courses, timeout=30)


async def _operator_may_not_write_people_or_consent(operator: KafkaSettings,
                                                    topics: Topics) -> None:
    """Whoever may write `people` can redirect every message, and whoever may write `sessions`
    and `notifications.requested` can state an employee's consent and ask for a message to the
    leader: the everyday operator's credential may do neither (replays have their own)."""
    producer = EventProducer(operator.aiokafka_kwargs())
    await producer.start()
    try:
        for topic in (topics.people, topics.sessions, topics.notifications_requested):
            with pytest.raises(KafkaError):
                await asyncio.wait_for(producer.send(topic, b"{}", "c-anyone"), 30)
    finally:
        await producer.stop()


async def _operator_commands(broker: SecureBroker, topics: Topics, course_id: str,
                             referral_service: ReferralService) -> None:
    """`tail` and `people erase` as the operator, and `dlq replay` under its own principal,
    each with only its own ACLs."""
    operator = sasl(broker, OPERATOR.principal)
    out = io.StringIO()
    shown = await tail(operator, ["courses"], course=course_id, types=[], from_beginning=True,
                       out=out, limit=1, idle_exit=10)
    assert shown == 1 and "course.started" in out.getvalue()
    # Two referrals the referral service puts in its DLQ: one naming the employee, one not.
    otto = ReferredPerson(name="Otto Other", email="otto@example.org")
    intake = EventProducer(sasl(broker, INTAKE.principal).aiokafka_kwargs())
    await intake.start()
    try:
        for named in (referral("r-acl-broken"), referral("r-acl-otto", employee=otto)):
            broken = json.loads(encode_event(named))
            broken["leader"]["email"] = "lars at example.org"
            referral_id = named.referral_id
            await intake.send(topics.referrals, json.dumps(broken).encode(), referral_id)
    finally:
        await intake.stop()
    for _ in range(60):
        if len(await read_dlq(operator, "referrals")) >= 2:
            break
        await asyncio.sleep(0.5)
    employee_id = person_id_for(referral().employee)
    await wait_for(lambda: referral_service.people.get(employee_id) is not None, timeout=30)
    assert (await erase(operator, employee_id)).person_id == employee_id
    # The referral service, the only writer of `people`, tombstones the employee there.
    await wait_for(lambda: referral_service.people.get(employee_id) is None, timeout=30)
    await _operator_may_not_write_people_or_consent(operator, topics)
    # The letter is read, checked against `erasures` and refused: it names the erased employee.
    # The other is replayed, under the replay principal's credential.
    outcome = await replay_checked(sasl(broker, REPLAY.principal), "referrals", [],
                                   id_key=DEVELOPMENT_ID_KEY)
    assert len(outcome.replayed) == 1 and [r for _, r in outcome.refused] == [
        "names an erased person"]
