"""Crash test (quick variant): while courses flow, kill -9 a random service 20 times and restart
the broker once; afterwards every required notification was delivered, duplicates only from the
documented send/ledger gap (counted), and every start call ended in its right state."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from devtools import kafka_broker
from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink
from services.notifier.adapters.smtp import message_id
from services.referral.domain.intake import course_id_for
from shared.calendar import COPENHAGEN
from shared.clock import ScaledClock
from shared.events import ConsentGiven, ReferralSubmitted, ReferredPerson
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events
from tests.kafka_fixture import TEST_BROKER_PORT

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SERVICES = ("services.referral.app", "services.contact_scheduler.app", "services.notifier.app")
START = datetime(2026, 11, 30, 7, 0, tzinfo=COPENHAGEN)
SPEED = 6 * 3600.0
KILLS = int(os.environ.get("LEDERKONTAKT_FAULT_KILLS", "20"))
COURSES = int(os.environ.get("LEDERKONTAKT_FAULT_COURSES", "12"))
# Staff who ask for each reminder on its own: every expected notification is one message.
PSY = ReferredPerson(person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk",
                     reminders="each")
LEAD = ReferredPerson(person_id="lead-1", name="Tove Teamleder", email="tove@tidlig.dk",
                      reminders="each")


def referral(i: int, at: datetime) -> ReferralSubmitted:
    return ReferralSubmitted(
        occurred_at=at, referral_id=f"fault-{i}", workplace="Kommunen",
        employee=ReferredPerson(name=f"Ansat {i}", email=f"emp{i}@example.org"),
        leader=ReferredPerson(name=f"Leder {i}", email=f"leader{i}@example.org"),
        psychologist=PSY, team_lead=LEAD, reason_category="stress_related",
        employee_consents_to_leader_contact=True)


def expected_ids(course_id: str) -> set[str]:
    return {f"{course_id}:referral_receipt", f"{course_id}:start_call:due",
            f"{course_id}:start_call:due:leader", f"{course_id}:start_call:overdue",
            f"{course_id}:start_call:escalated"}


def local_broker_home() -> kafka_broker.BrokerHome | None:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return None
    home = kafka_broker.BrokerHome(
        root=Path(os.environ.get("LEDERKONTAKT_KAFKA_HOME", REPO / ".cache" / "kafka")),
        host="127.0.0.1", port=TEST_BROKER_PORT)
    return home if kafka_broker.running_pid(home) else None


async def test_services_killed_20_times_lose_nothing(
    kafka: KafkaSettings, topics: Topics, smtp: tuple[MailSink, int], sms: SmsGatewayDouble,
    tls: tuple[object, str],
) -> None:
    sink, port = smtp
    origin = time.time() + 6
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "LEDERKONTAKT_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "LEDERKONTAKT_TOPIC_PREFIX": kafka.topic_prefix, "LEDERKONTAKT_HTTP_PORT": "0",
           "LEDERKONTAKT_CLOCK_START": START.isoformat(), "LEDERKONTAKT_CLOCK_SPEED": str(SPEED),
           "LEDERKONTAKT_CLOCK_ORIGIN": str(origin),
           "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(port),
           "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": tls[1],
           "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": sms.url,
           "LEDERKONTAKT_NOTIFIER_SMS_TOKEN": sms.token,
           "LEDERKONTAKT_NOTIFIER_RETRY_BASE_SECONDS": "0.2",
           "LEDERKONTAKT_NOTIFIER_MAX_ATTEMPTS": "30"}

    def spawn(module: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    procs = {m: spawn(m) for m in SERVICES}
    clock = ScaledClock(START, SPEED, origin)
    producer = EventProducer(kafka.aiokafka_kwargs())
    await producer.start()
    rng = random.Random(7)
    kills: collections.Counter[str] = collections.Counter()
    broker_restarted = False
    try:
        await asyncio.sleep(max(0.0, origin - time.time()))
        for i in range(COURSES):  # the courses flow while the killing goes on
            await producer.publish(topics.referrals, referral(i, clock.now()))
            # The psychologist records the employee's own consent (the form's answer is the
            # leader's word and opens nothing).
            await producer.publish(topics.sessions, ConsentGiven(
                occurred_at=clock.now(), course_id=course_id_for(f"fault-{i}"),
                party="employee", scope="leader_contact"))
        home = local_broker_home()
        victims = [SERVICES[i % len(SERVICES)] for i in range(KILLS)]
        rng.shuffle(victims)  # every service is killed, in a random order at random moments
        for n, victim in enumerate(victims):
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            kills[victim] += 1
            if n == KILLS // 2 and home is not None:
                await producer.stop()
                await asyncio.to_thread(kafka_broker.stop, home)
                await asyncio.to_thread(kafka_broker.start, home)
                await producer.start()
                broker_restarted = True
            procs[victim] = spawn(victim)
        escalations_done = datetime(2026, 12, 7, 9, 0, tzinfo=COPENHAGEN)
        await asyncio.sleep(max(0.0, (escalations_done - clock.now()).total_seconds() / SPEED))
        wanted = set().union(*(expected_ids(course_id_for(f"fault-{i}")) for i in range(COURSES)))
        domain = "tidlig-indsats.dk"
        by_message_id = {message_id(n, domain): n for n in wanted}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            delivered = {by_message_id.get(m.message_id) for m in sink.mails}
            if wanted <= delivered:
                break
            await asyncio.sleep(0.5)
        points = await read_events(kafka, topics.contact_points, expect=1, settle=1.0)
    finally:
        await producer.stop()
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    counts = collections.Counter(m.message_id for m in sink.mails)
    delivered = {by_message_id[m] for m in counts if m in by_message_id}
    lost = wanted - delivered
    duplicates = sum(c - 1 for c in counts.values())
    print(f"\nkills {dict(kills)}, broker restarted {broker_restarted}: "
          f"{len(wanted)} required, {len(delivered)} delivered, {len(lost)} lost, "
          f"{duplicates} duplicates")
    assert not lost, sorted(lost)[:5]
    assert sum(kills.values()) == KILLS
    assert duplicates <= kills["services.notifier.app"]
    last_state = {e.course_id: e.type for e in points if e.contact_point_id == "start_call"}  # type: ignore[attr-defined]
    assert set(last_state.values()) == {"contact_point.overdue"}
    assert len(last_state) == COURSES
