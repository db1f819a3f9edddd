"""What the cluster fault runs share: the services as processes (any number of instances each),
courses referred continuously, every expected notification counted where it arrives (the SMTP
server by Message-ID, the SMS double by `userref`), and the consumer lag of the services' groups.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import MailSink
from services.contact_scheduler import app as scheduler_app
from services.notifier import app as notifier_app
from services.notifier.adapters.smtp import message_id
from services.referral import app as referral_app
from services.referral.domain.intake import course_id_for
from shared.calendar import COPENHAGEN
from shared.clock import ScaledClock
from shared.events import ConsentGiven, ReferralSubmitted, ReferredPerson
from shared.kafka import EventProducer
from shared.reader import partition_numbers
from shared.settings import KafkaSettings
from shared.topics import Topics

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("services.referral.app", "services.contact_scheduler.app", "services.notifier.app")
START = datetime(2026, 11, 30, 7, 0, tzinfo=COPENHAGEN)
SPEED = 6 * 3600.0
# From a referral to its escalation (the last expected notification) is under a week of
# scaled time: 28 s at SPEED.
CHAIN_SECONDS = 7 * 24 * 3600 / SPEED
SENDER_DOMAIN = "tidlig-indsats.dk"
# Staff who ask for each reminder on its own: every expected notification is one message.
PSY = ReferredPerson(person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk",
                     reminders="each")
LEAD = ReferredPerson(person_id="lead-1", name="Tove Teamleder", email="tove@tidlig.dk",
                      reminders="each")


def referral(run: str, i: int, at: datetime) -> ReferralSubmitted:
    """Every other leader prefers SMS, so both channels carry expected notifications."""
    by_sms = i % 2 == 1
    leader = ReferredPerson(name=f"Leder {i}", email=f"leader{i}@example.org",
                            phone=f"+4526{i % 1_000_000:06d}" if by_sms else None,
                            preferred_channel="sms" if by_sms else None)
    return ReferralSubmitted(
        occurred_at=at, referral_id=f"{run}-{i}", workplace="Kommunen",
        employee=ReferredPerson(name=f"Ansat {i}", email=f"emp{i}@example.org"), leader=leader,
        psychologist=PSY, team_lead=LEAD, reason_category="stress_related",
        employee_consents_to_leader_contact=True)


def expected_ids(course_id: str) -> set[str]:
    return {f"{course_id}:referral_receipt", f"{course_id}:start_call:due",
            f"{course_id}:start_call:due:leader", f"{course_id}:start_call:overdue",
            f"{course_id}:start_call:escalated"}


def service_env(kafka: KafkaSettings, smtp_port: int, cafile: str, sms_url: str, sms_token: str,
                origin: float, start: datetime = START, speed: float = SPEED) -> dict[str, str]:
    # Unbuffered, so the log of an instance killed with -9 keeps its last lines.
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
            "LEDERKONTAKT_DEVELOPMENT": "1",  # referrals name their own staff, no id secret
            "LEDERKONTAKT_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "LEDERKONTAKT_TOPIC_PREFIX": kafka.topic_prefix, "LEDERKONTAKT_HTTP_PORT": "0",
            "LEDERKONTAKT_CLOCK_START": start.isoformat(), "LEDERKONTAKT_CLOCK_SPEED": str(speed),
            "LEDERKONTAKT_CLOCK_ORIGIN": str(origin),
            "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(smtp_port),
            "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": cafile,
            "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": sms_url,
            "LEDERKONTAKT_NOTIFIER_SMS_TOKEN": sms_token,
            "LEDERKONTAKT_NOTIFIER_RETRY_BASE_SECONDS": "0.2",
            "LEDERKONTAKT_NOTIFIER_MAX_ATTEMPTS": "60"}


@dataclass
class Fleet:
    """`instances` processes of each service. Only what the run kills on purpose may die."""

    env: dict[str, str]
    instances: int = 1
    log_dir: Path | None = None
    procs: dict[tuple[str, int], subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: collections.Counter[str] = field(default_factory=collections.Counter)

    def start(self) -> None:
        for module in SERVICES:
            for n in range(self.instances):
                self.procs[(module, n)] = self._spawn(module, n)

    def _spawn(self, module: str, n: int) -> subprocess.Popen[bytes]:
        out: int | object = subprocess.DEVNULL
        if self.log_dir is not None:
            out = (self.log_dir / f"{module.split('.')[1]}-{n}.log").open("ab")
        return subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=self.env,
                                stdout=out, stderr=subprocess.STDOUT)  # type: ignore[arg-type]

    def kill9(self, module: str, n: int = 0) -> None:
        proc = self.procs.pop((module, n))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.killed[module] += 1

    def died_on_their_own(self) -> list[str]:
        """Processes that exited without being killed: each would have needed a hand restart."""
        return [f"{m}#{n}" for (m, n), p in self.procs.items() if p.poll() is not None]

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Flow:
    """Refers one course every `interval` seconds until stopped. A referral that the broker did
    not acknowledge is sent again (same id: the referral service opens one course for it), so
    every course the flow counts was acknowledged."""

    kafka: KafkaSettings
    clock: ScaledClock
    run: str
    interval: float = 0.5
    acknowledged: list[str] = field(default_factory=list)
    retries: int = 0
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self) -> None:
        producer = EventProducer({**self.kafka.aiokafka_kwargs(), "request_timeout_ms": 10000})
        await producer.start()
        topics = Topics(self.kafka.topic_prefix)
        i = 0
        try:
            while not self._stopping.is_set():
                course_id = course_id_for(f"{self.run}-{i}")
                try:
                    await producer.publish(topics.referrals, referral(self.run, i, self.clock.now()))
                    # The psychologist records the employee's own consent: the referral form's
                    # answer is the leader's word and opens no leader contact.
                    await producer.publish(topics.sessions, ConsentGiven(
                        occurred_at=self.clock.now(), course_id=course_id, party="employee",
                        scope="leader_contact"))
                except (KafkaError, OSError):
                    self.retries += 1
                    await asyncio.sleep(0.5)
                    continue
                self.acknowledged.append(course_id)
                i += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.interval)
        finally:
            await producer.stop()

    def stop(self) -> None:
        self._stopping.set()


def delivered(sink: MailSink, sms: SmsGatewayDouble,
              by_message_id: Mapping[str, str]) -> collections.Counter[str]:
    """How often each notification id arrived, over both channels."""
    counts: collections.Counter[str] = collections.Counter()
    for mail in list(sink.mails):
        counts[by_message_id.get(mail.message_id, mail.message_id)] += 1
    for message in list(sms.messages):
        counts[str(message.get("userref"))] += 1
    return counts


@dataclass(frozen=True)
class Outcome:
    required: int
    lost: int
    duplicates: int
    died: tuple[str, ...]
    recovery_s: float | None


async def await_deliveries(courses: list[str], sink: MailSink, sms: SmsGatewayDouble,
                           timeout: float) -> tuple[set[str], collections.Counter[str]]:
    wanted = set().union(*(expected_ids(c) for c in courses)) if courses else set()
    by_message_id = {message_id(n, SENDER_DOMAIN): n for n in wanted}
    deadline = time.monotonic() + timeout
    while True:
        counts = delivered(sink, sms, by_message_id)
        if wanted <= set(counts) or time.monotonic() > deadline:
            return wanted, counts
        await asyncio.sleep(0.5)


def service_groups(topics: Topics) -> dict[str, tuple[str, ...]]:
    """The consumer groups of the services the fleet runs, each with the topics it consumes."""
    return {f"{topics.prefix}{referral_app.INTAKE_GROUP}": (topics.referrals,),
            f"{topics.prefix}{referral_app.CONSENT_GROUP}": (topics.courses, topics.sessions),
            f"{topics.prefix}{referral_app.ERASURE_GROUP}": (topics.erasures,),
            f"{topics.prefix}{scheduler_app.GROUP}": (topics.courses, topics.sessions,
                                                      topics.consents),
            f"{topics.prefix}{notifier_app.GROUP}": (topics.notifications_requested,)}


async def consumer_lag(kafka: KafkaSettings) -> int | None:
    """Records not yet committed by the services' consumer groups, over every partition of the
    topics they consume; None if the cluster did not say. A partition that holds records but
    has no offset committed by the group (a group that has not joined or not committed yet)
    counts all its records: nothing has been consumed there for certain."""
    kwargs = {**kafka.aiokafka_kwargs(), "request_timeout_ms": 5000}
    admin = AIOKafkaAdminClient(**kwargs)
    consumer = AIOKafkaConsumer(**kwargs, group_id=None)
    try:
        await admin.start()
        await consumer.start()
        lag = 0
        for group, topics in service_groups(Topics(kafka.topic_prefix)).items():
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
            tps = [TopicPartition(t, p) for t in topics
                   for p in await partition_numbers(consumer, t)]
            if not tps:
                return None
            ends = await consumer.end_offsets(tps)
            lag += sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())
        return lag
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.close()


async def groups_stable(kafka: KafkaSettings) -> bool:
    """Whether every service group has members and a settled assignment."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs(), request_timeout_ms=5000)
    try:
        await admin.start()
        for group in service_groups(Topics(kafka.topic_prefix)):
            # One group per request: aiokafka fails to decode an answer about several groups
            # that have members ("Buffer underrun decoding string").
            [response] = await admin.describe_consumer_groups([group])
            [(_, _, state, _, _, members, *_)] = response.groups
            if state != "Stable" or not members:
                return False
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def wait_until_joined(kafka: KafkaSettings, timeout: float) -> float:
    """Seconds until every service group is stable; raises if that takes over `timeout`."""
    started = time.monotonic()
    while not await groups_stable(kafka):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the services' groups were not stable within {timeout} s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def seconds_until_no_lag(kafka: KafkaSettings, since: float, timeout: float = 300) -> float | None:
    """Seconds from `since` (time.monotonic) until the services had consumed and committed
    everything on their topics; None if that did not happen within `timeout`."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        if await consumer_lag(kafka) == 0:
            return time.monotonic() - since
        await asyncio.sleep(0.5)
    return None
