"""An employee withdraws consent; then a consent statement for the same course arrives under
another record key; then every service is killed and started again. The mis-keyed statement is
in the DLQ, and the leader hears nothing but the receipt of their own referral. A second course
whose employee consents shows that leader messages do get through in the same run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink
from services.notifier.adapters.smtp import message_id
from services.referral.domain.intake import course_id_for
from shared.calendar import COPENHAGEN
from shared.clock import ScaledClock
from shared.events import (
    ConsentGiven,
    ConsentWithdrawn,
    FollowUpRequested,
    ReferralSubmitted,
    ReferredPerson,
    encode_event,
)
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.faults.cluster_harness import service_env
from tests.integration.helpers import read_records, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SERVICES = ("services.referral.app", "services.contact_scheduler.app", "services.notifier.app")
START = datetime(2026, 11, 29, 12, 0, tzinfo=COPENHAGEN)  # a Sunday; the course starts Monday
SPEED = 1800.0  # half an hour a second: Monday 08:30 comes 41 s after the start
DOMAIN = "tidlig-indsats.dk"
PSY = ReferredPerson(person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk")
LEAD = ReferredPerson(person_id="lead-1", name="Tove Teamleder", email="tove@tidlig.dk")


def referral(name: str, at: datetime) -> ReferralSubmitted:
    return ReferralSubmitted(
        occurred_at=at, referral_id=name, workplace="Kommunen",
        employee=ReferredPerson(name="Ansat", email=f"employee-{name}@example.org"),
        leader=ReferredPerson(name="Leder", email=f"leader-{name}@example.org"),
        psychologist=PSY, team_lead=LEAD, reason_category="stress_related",
        employee_consents_to_leader_contact=True)


async def test_a_withdrawal_holds_against_a_mis_keyed_consent_and_a_restart_of_every_service(
    kafka: KafkaSettings, topics: Topics, smtp: tuple[MailSink, int], sms: SmsGatewayDouble,
    tls: tuple[object, str],
) -> None:
    sink, port = smtp
    origin = time.time() + 4
    env = service_env(kafka, port, tls[1], sms.url, sms.token, origin, START, SPEED)

    def spawn(module: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    withdrawn, consenting = course_id_for("restart-w"), course_id_for("restart-c")
    procs = {m: spawn(m) for m in SERVICES}
    clock = ScaledClock(START, SPEED, origin)
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    try:
        await asyncio.sleep(max(0.0, origin - time.time()))
        for name in ("restart-w", "restart-c"):
            await producer.publish(topics.referrals, referral(name, clock.now()))
        for course in (withdrawn, consenting):
            await producer.publish(topics.sessions, ConsentGiven(
                occurred_at=clock.now(), course_id=course, party="employee",
                scope="leader_contact"))
        await producer.publish(topics.sessions, ConsentWithdrawn(
            occurred_at=clock.now() + timedelta(minutes=1), course_id=withdrawn,
            party="employee", scope="leader_contact"))
        # A later consent statement for the same course, under another course's key: it would
        # land in another partition and grow a second, newer consent record there.
        later = ConsentGiven(occurred_at=clock.now() + timedelta(minutes=2), course_id=withdrawn,
                             party="employee", scope="leader_contact")
        await producer.send(topics.sessions, encode_event(later), consenting)
        dead = await read_records(kafka, topics.dlq("sessions"), expect=1, timeout=30)
        for module, proc in procs.items():  # every service dies at once and comes back
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            procs[module] = spawn(module)
        for course in (withdrawn, consenting):  # asked for after the restart
            await producer.publish(topics.sessions, FollowUpRequested(
                occurred_at=clock.now(), course_id=course, follow_up_id="f-1"))
        monday_morning = datetime(2026, 11, 30, 10, 0, tzinfo=COPENHAGEN)
        await asyncio.sleep(max(0.0, (monday_morning - clock.now()).total_seconds() / SPEED))

        def leader_mail(name: str) -> set[str]:
            return {m.message_id for m in sink.mails if m.to == f"leader-{name}@example.org"}

        call_coming = message_id(f"{consenting}:start_call:due:leader", DOMAIN)
        await wait_for(lambda: call_coming in leader_mail("restart-c"), timeout=60)
        await asyncio.sleep(3)  # anything still on its way to the other leader arrives now
    finally:
        await producer.stop()
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    reasons = [dict(r.headers)["dlq.reason"].decode() for r in dead]
    print(f"\nDLQ: {reasons}\nconsenting leader: {len(leader_mail('restart-c'))} mails, "
          f"withdrawn leader: {len(leader_mail('restart-w'))} mails")
    assert len(reasons) == 1 and "record key" in reasons[0]
    # The receipt of their own referral, nothing else.
    assert leader_mail("restart-w") == {message_id(f"{withdrawn}:referral_receipt", DOMAIN)}
