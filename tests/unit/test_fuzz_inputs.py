"""Bad input on every input topic: arbitrary, truncated, oversized and hostile payloads never
crash a handler; each ends processed or in its topic's DLQ; nothing hostile is rendered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.contact_scheduler.handlers import SchedulerHandlers
from services.contact_scheduler.steps import CourseSteps
from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.domain.render import build_context, render
from services.notifier.handlers import NotifierHandlers
from shared.calendar import WorkingDayCalendar
from shared.clock import ManualClock
from shared.events import ConsentState, NotificationRequested, Person, decode_event, encode_event
from shared.state import ChangelogTable
from shared.topics import Topics
from tests.fakes import (
    FakeProducer,
    FakeView,
    Record,
    RecordingSender,
    RecordingSms,
    members_of,
    natural_key,
)
from tests.samples import AT, one_of_each

TOPICS = Topics("f-")
HOSTILE = ["{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "<script>alert(1)</script>",
           "'; DROP TABLE people; --", "\x00\x1b[31m", "A" * 5000, "Ø" * 300, "${jndi:ldap://x}"]
SAMPLES = [json.loads(encode_event(e)) for e in one_of_each("c-f")]


def mutate(sample: dict[str, Any], changes: dict[str, Any]) -> bytes:
    return json.dumps({**sample, **changes}).encode()


# Real ids, roles and kinds too, so that a mutation can forge a request to a real person.
FORGERIES = ["e-1", "l-1", "psy-1", "c-f", "leader", "employee", "psychologist", "team_lead",
             "referral_receipt", "leader_call_coming", "three_party_meeting_agreed", "none"]
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40),
                   st.sampled_from(HOSTILE), st.lists(st.integers(), max_size=3),
                   st.sampled_from(FORGERIES))
payloads = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(SAMPLES).flatmap(lambda s: st.dictionaries(
        st.sampled_from(sorted(s)), values, max_size=3).map(lambda c, s=s: mutate(s, c))),
    st.sampled_from(SAMPLES).flatmap(lambda s: st.integers(1, 80).map(
        lambda n, s=s: json.dumps(s).encode()[:n])),  # truncated
    st.just(b'{"type": "course.ended", "pad": "' + b"x" * 1_000_000 + b'"}'),  # 1 MB
    st.sampled_from(SAMPLES).map(lambda s: json.dumps(s).encode()[:-1]  # a 4500-digit number
                                 + b', "n": ' + b"9" * 4500 + b"}"),
    st.sampled_from([b"[" * 5000, b'{"a":' * 3000]),  # nesting deeper than the parser goes
)


def _table(producer: FakeProducer, decode: Any) -> ChangelogTable[Any]:
    table: ChangelogTable[Any] = ChangelogTable("t", {}, producer, encode=lambda v: b"",
                                                decode=decode)
    table.ready.set()
    return table


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=payloads, topic=st.sampled_from(["courses", "sessions", "consents"]))
def test_the_scheduler_never_raises_on_bad_input(raw: bytes, topic: str) -> None:
    producer = FakeProducer()
    handlers = SchedulerHandlers(CourseSteps(
        TOPICS, producer, _table(producer, CoursePlan.model_validate_json),
        ContactPlanner(ContactPolicy(), WorkingDayCalendar()), ManualClock(AT)))
    asyncio.run(handlers.on_event(Record(TOPICS.name(topic), raw, natural_key(raw))))
    assert len(producer.on(TOPICS.dlq(topic))) <= 1


FUZZ_PEOPLE = {pid: Person(person_id=pid, name=pid.upper(), email=f"{pid}@example.org")
               for pid in ("e-1", "l-1", "psy-1")}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=payloads)
def test_the_notifier_never_raises_on_bad_input_and_never_sends_what_it_must_not(
        raw: bytes) -> None:
    # The course's people exist and can be reached, and the employee has not consented: a
    # wrong send (to the leader or the employee) would show.
    producer = FakeProducer()
    consents: FakeView[ConsentState] = FakeView()
    sender = RecordingSender(consents)
    handlers = NotifierHandlers(TOPICS, producer, _table(producer, LedgerEntry.model_validate_json),
                                FakeView(dict(FUZZ_PEOPLE)), consents, sender, RecordingSms(),
                                ManualClock(AT), NotifierSettings(),
                                members_of("c-f", employee_id="e-1", leader_id="l-1",
                                           psychologist_id="psy-1"))
    asyncio.run(handlers.on_request(Record(TOPICS.notifications_requested, raw, natural_key(raw))))
    dead = producer.on(TOPICS.dlq("notifications.requested"))
    statuses = producer.on(TOPICS.notifications_status)
    assert len(dead) + len(statuses) >= 1
    assert "e-1@example.org" not in sender.addresses
    if "l-1@example.org" in sender.addresses:
        request = decode_event(raw)
        assert isinstance(request, NotificationRequested)
        assert (request.kind, request.recipient_role, request.course_id) == (
            "referral_receipt", "leader", "c-f")


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from([*HOSTILE[:4], "Lars"]).flatmap(
    lambda h: st.text(max_size=20).map(lambda t, h=h: (h + t).strip() or "X")))
def test_hostile_names_are_printed_as_text_never_run(name: str) -> None:
    try:
        person = Person(person_id="p", name=name, email="p@example.org")
    except ValueError:
        return  # control characters are refused at the edge
    request = NotificationRequested(occurred_at=AT, course_id="c-1", notification_id="n",
                                    kind="referral_receipt", recipient_id="p",
                                    recipient_role="leader", requires_consent="none")
    body = render("referral_receipt", "en", "email", build_context(request, person, None)).body
    assert person.name in body
    assert "49" not in body.replace(person.name, "")
