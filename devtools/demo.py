"""Run the whole system locally and play a demo scenario through the real topics.

Starts the local Kafka broker, creates the topics, starts an SMTP server (STARTTLS) that keeps
every mail in `.cache/demo/mail/`, the SMS gateway double, and the three services as processes
on a scaled clock; then plays four referrals and prints what each person received.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devtools import kafka_broker
from devtools.sms_gateway import SmsGatewayDouble
from devtools.smtp_sink import Mail, local_tls, start_sink
from services.referral.domain.intake import course_id_for, person_id_for
from shared.calendar import COPENHAGEN
from shared.clock import ScaledClock
from shared.events import (
    ConsentGiven,
    ConsentWithdrawn,
    CourseEnded,
    Event,
    LeaderContactLogged,
    ReferralSubmitted,
    ReferredPerson,
)
from shared.events.people import ReminderPreference
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics

REPO = Path(__file__).resolve().parent.parent
# Sunday noon: the referrals arrive, and everything a step depends on has hours of scaled time
# (seconds of real time) to travel through the services before the Monday 08:30 reminders.
START = datetime(2026, 11, 29, 12, 0, tzinfo=COPENHAGEN)
MONDAY = datetime(2026, 11, 30, tzinfo=COPENHAGEN)
SPEED = 3 * 3600  # three hours a second: a working day passes in about eight seconds
SERVICES = ("services.referral.app", "services.contact_scheduler.app", "services.notifier.app")

PSYCHOLOGIST = ReferredPerson(person_id="psy-pia", name="Pia Psykolog", email="pia@tidlig.dk",
                              phone="+4520304050")
TEAM_LEAD = ReferredPerson(person_id="lead-tove", name="Tove Teamleder", email="tove@tidlig.dk")


def _person(name: str, email: str, phone: str | None = None, channel: str | None = None,
            language: str = "da") -> ReferredPerson:
    return ReferredPerson(name=name, email=email, phone=phone, preferred_channel=channel,
                          language=language)


@dataclass(frozen=True)
class Case:
    referral_id: str
    employee: ReferredPerson
    leader: ReferredPerson
    consents: bool
    story: str


CASES = [
    Case("demo-anna", _person("Anna Ansat", "anna@example.org"),
         _person("Lars Leder", "lars@example.org"), True,
         "consents (to the psychologist); the start call is logged; the course ends"),
    Case("demo-bo", _person("Bo Borg", "bo@example.org"),
         _person("Mette Mellemleder", "mette@example.org"), False,
         "does not consent: the leader gets only the receipt"),
    Case("demo-cecilie", _person("Cecilie Cort", "cecilie@example.org"),
         _person("Jens Jensen", "jens@example.org", language="en"), True,
         "consents, then withdraws before the start call is due"),
    Case("demo-dorte", _person("Dorte Dahl", "dorte@example.org"),
         _person("Hanne Holm", "hanne@example.org", "+4521314151", "sms"), True,
         "consents; all three agree to a three-party meeting"),
]


def referral(case: Case, at: datetime,
             reminders: ReminderPreference | None = None) -> ReferralSubmitted:
    """Pia and Tove state no preference unless `reminders` says: staff get the morning digest."""
    staff = {"reminders": reminders}
    return ReferralSubmitted(occurred_at=at, referral_id=case.referral_id, employee=case.employee,
                             leader=case.leader, psychologist=PSYCHOLOGIST.model_copy(update=staff),
                             team_lead=TEAM_LEAD.model_copy(update=staff),
                             workplace="Kommunen", reason_category="stress_related",
                             employee_consents_to_leader_contact=case.consents)


async def play(settings: KafkaSettings, clock: ScaledClock, until: datetime,
               reminders: ReminderPreference | None = None) -> None:
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()

    async def until_scaled(moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - clock.now()).total_seconds() / clock.speed))

    async def at_scaled(moment: datetime, events: list[tuple[str, Event]]) -> None:
        await until_scaled(moment)
        await producer.publish_all(events)

    try:
        now = clock.now()
        await producer.publish_all([(topics.referrals, referral(c, now, reminders))
                                    for c in CASES])
        anna, cecilie, dorte = (course_id_for(c) for c in ("demo-anna", "demo-cecilie",
                                                             "demo-dorte"))
        # What a leader writes on the referral is only the leader's word. The employee's own
        # consent is what counts: Pia records it after talking with Anna, Cecilie and Dorte.
        talk = START.replace(hour=13)
        await at_scaled(talk, [(topics.sessions, ConsentGiven(
            occurred_at=talk, course_id=course_id_for(case.referral_id), party="employee",
            scope="leader_contact")) for case in CASES if case.consents])
        # Cecilie withdraws on Sunday evening, before the Monday 08:30 reminders.
        evening = START.replace(hour=18)
        await at_scaled(evening, [(topics.sessions, ConsentWithdrawn(
            occurred_at=evening, course_id=cecilie, party="employee", scope="leader_contact"))])
        # Anna's start call happens on Monday at 10:00, after the 08:30 reminders.
        call = MONDAY.replace(hour=10)
        await at_scaled(call, [(topics.sessions, LeaderContactLogged(
            occurred_at=call, course_id=anna, contact_kind="start_call", at=call))])
        # Everyone in Dorte's course wants the three-party meeting on Monday afternoon.
        afternoon = MONDAY.replace(hour=14)
        await at_scaled(afternoon, [(topics.sessions, ConsentGiven(
            occurred_at=afternoon, course_id=dorte, party=party, scope="three_party_meeting"))
            for party in ("employee", "leader", "psychologist")])
        # Anna's course ends on Tuesday at noon.
        tuesday = MONDAY + timedelta(days=1, hours=12)
        await at_scaled(tuesday, [(topics.sessions, CourseEnded(
            occurred_at=tuesday, course_id=anna, end_date=tuesday.date()))])
        await until_scaled(until)
    finally:
        await producer.stop()



async def outcomes(settings: KafkaSettings) -> str:
    """What the notifier decided, from `notifications.status`: sent, suppressed (and why)."""
    from collections import Counter

    from shared.events import decode_event
    from shared.reader import reading, to_end

    counts: Counter[str] = Counter()
    async with reading(settings.aiokafka_kwargs(),
                       Topics(settings.topic_prefix).notifications_status) as consumer:
        async for records in to_end(consumer):
            for record in records:
                event = decode_event(record.value)
                reason = getattr(event, "reason", None)
                label = event.type.removeprefix("notification.")  # type: ignore[attr-defined]
                counts[f"{label} ({reason})" if reason and label == "suppressed" else label] += 1
    return "Notifier outcomes: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


async def stream_excerpt(settings: KafkaSettings, course_id: str) -> str:
    """One course's events as `lederkontakt tail --course` shows them."""
    import io

    from services.ops.tail import DEFAULT_TOPICS, tail

    out = io.StringIO()
    await tail(settings, DEFAULT_TOPICS, course=course_id, types=[], from_beginning=True,
               out=out, idle_exit=1.0)
    return f"\nThe event stream of Cecilie's course (lederkontakt tail --course {course_id}):\n" \
        + out.getvalue()


def screenshot(url: str) -> Path | None:
    """The ops page as headless Chromium renders it, when Debian's chromium is installed."""
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    shot = REPO / ".cache" / "demo" / "ops-page.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1100,1000",
                    f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
                    f"--screenshot={shot}", url], capture_output=True, timeout=90, check=False)
    return shot if shot.exists() else None


def _portal_port() -> int:
    return int(os.environ.get("LEDERKONTAKT_PORTAL_PORT", "8080"))


def start_portal_and_login(env: dict[str, str], log: Any,
                           procs: list[subprocess.Popen[bytes]]) -> str:
    """The OIDC provider and the portal as processes, on LEDERKONTAKT_OIDC_PORT (9400) and
    LEDERKONTAKT_PORTAL_PORT (8080), and the reporting service for the portal's reports page."""
    from devtools import portal_stack

    procs.append(subprocess.Popen([sys.executable, "-m", "services.reporting.app"], cwd=REPO,
                                  env={**env, "LEDERKONTAKT_REPORTING_PUBLISH_SECONDS": "2"},
                                  stdout=log, stderr=subprocess.STDOUT))
    oidc_port = int(os.environ.get("LEDERKONTAKT_OIDC_PORT", "9400"))
    portal_port = _portal_port()
    procs.append(portal_stack.start_oidc_provider(oidc_port, log=log))
    portal_env = portal_stack.portal_env(portal_port, f"http://127.0.0.1:{oidc_port}", env)
    procs.append(portal_stack.start_portal(portal_env, log=log))
    return f"http://127.0.0.1:{portal_port}"


def portal_logins(url: str) -> str:
    from devtools.portal_stack import LOGINS

    lines = [f"\nPortal: {url}/ (log in, then choose a user on the identity provider's page)"]
    for role in ("leader", "employee", "psychologist", "team_lead", "management"):
        login = next(u for u in LOGINS if u.role == role)
        lines.append(f"  {role:13} {login.sub:6} {login.name}")
    return "\n".join(lines)


def report(mails: list[Mail], sms: list[dict[str, object]]) -> str:
    names = {p.email: p.name for c in CASES for p in (c.employee, c.leader)}
    names.update({PSYCHOLOGIST.email: PSYCHOLOGIST.name, TEAM_LEAD.email: TEAM_LEAD.name})
    phones = {str(p.phone).lstrip("+"): p.name for c in CASES for p in (c.leader,) if p.phone}
    lines = ["", "What each person received:"]
    for mail in mails:
        to = mail.recipients[0]
        lines.append(f"  e-mail to {names.get(to, to):20} {mail.subject}")
    for message in sms:
        msisdn = str(message["recipients"][0]["msisdn"])  # type: ignore[index]
        lines.append(f"  SMS    to {phones.get(msisdn, msisdn):20} {message['message']}")
    lines.append(f"  ({len(mails)} e-mails, {len(sms)} SMS)")
    return "\n".join(lines)


def run(bootstrap: str | None = None, days: float = 3.0, quiet: bool = False,
        reminders: ReminderPreference | None = None) -> tuple[
        list[Mail], list[dict[str, object]]]:
    """Run the scenario for `days` of scaled time; returns the mails and SMS delivered. The
    staff get the morning digest, or each reminder on its own with `reminders="each"`."""
    started_broker = False
    home = kafka_broker.default_home()
    if bootstrap is None:
        started_broker = kafka_broker.running_pid(home) is None
        bootstrap = kafka_broker.start(home)
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"demo{int(time.time())}-")
    asyncio.run(create_topics(settings.aiokafka_kwargs(), Topics(settings.topic_prefix),
                             settings.replication_factor))
    server_tls, cafile = local_tls()
    controller, sink = start_sink(server_tls, folder=REPO / ".cache" / "demo" / "mail")
    sms = SmsGatewayDouble().start()
    origin = time.time() + 8  # the services need a few seconds to join their groups
    clock = ScaledClock(START, SPEED, origin)
    env = {**os.environ, "PYTHONPATH": str(REPO),
           # The demo's referrals name their own staff, and ids need no secret here.
           "LEDERKONTAKT_DEVELOPMENT": "1",
           "LEDERKONTAKT_BOOTSTRAP_SERVERS": bootstrap,
           "LEDERKONTAKT_TOPIC_PREFIX": settings.topic_prefix,
           "LEDERKONTAKT_CLOCK_START": START.isoformat(),
           "LEDERKONTAKT_CLOCK_SPEED": str(SPEED), "LEDERKONTAKT_CLOCK_ORIGIN": str(origin),
           "LEDERKONTAKT_NOTIFIER_SMTP_PORT": str(controller.port),
           "LEDERKONTAKT_NOTIFIER_SMTP_CAFILE": cafile,
           "LEDERKONTAKT_NOTIFIER_SMS_BASE_URL": sms.url,
           "LEDERKONTAKT_NOTIFIER_SMS_TOKEN": sms.token,
           # The staff's mails link to the demo's portal.
           "LEDERKONTAKT_PORTAL_PUBLIC_URL": f"http://127.0.0.1:{_portal_port()}"}
    (REPO / ".cache" / "demo").mkdir(parents=True, exist_ok=True)
    log = open(REPO / ".cache" / "demo" / "services.log", "ab")
    procs = [subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT) for module in SERVICES]
    portal_url = None
    if not quiet:
        portal_url = start_portal_and_login(env, log, procs)
    ops_port = int(os.environ.get("LEDERKONTAKT_OPS_PAGE_PORT", "8088"))
    procs.append(subprocess.Popen([sys.executable, "-m", "services.cli", "ops-page", "--port",
                                   str(ops_port)], cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT))
    try:
        if not quiet:
            print(f"broker {bootstrap}, topics {settings.topic_prefix}*, SMTP 127.0.0.1:"
                  f"{controller.port}, SMS {sms.url}; services log .cache/demo/services.log")
            for case in CASES:
                print(f"  {case.employee.name:15} (leader {case.leader.name}): {case.story}")
        while time.time() < origin:
            time.sleep(0.2)
        asyncio.run(play(settings, clock, START + timedelta(days=days), reminders))
        time.sleep(2)
        if not quiet:
            print(report(sink.mails, sms.messages))
            print(asyncio.run(outcomes(settings)))
            print(asyncio.run(stream_excerpt(settings, course_id_for("demo-cecilie"))))
            print(f"\nOps page: http://127.0.0.1:{ops_port}/ (as of the demo's clock)")
            if portal_url:
                print(portal_logins(portal_url))
            shot = screenshot(f"http://127.0.0.1:{ops_port}/")
            if shot:
                print(f"  screenshot: {shot}")
            if sys.stdin.isatty():
                print("The system keeps running; Ctrl-C stops everything this command started.")
                while all(p.poll() is None for p in procs):
                    time.sleep(1)
        return list(sink.mails), list(sms.messages)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        sms.stop()
        controller.stop()
        if started_broker and not os.environ.get("LEDERKONTAKT_KEEP_BROKER"):
            kafka_broker.stop(home)


def main() -> int:
    (REPO / ".cache" / "demo").mkdir(parents=True, exist_ok=True)
    try:
        run()
    except KeyboardInterrupt:
        print("stopped")
    except kafka_broker.BrokerError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["CASES", "main", "person_id_for", "run"]

if __name__ == "__main__":
    sys.exit(main())
