"""The referral service against the real broker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.referral.app import ReferralService
from services.referral.domain.intake import course_id_for
from shared.events import ConsentGiven, ConsentWithdrawn, ReferralWithdrawn, encode_event
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.integration.helpers import read_events, read_records
from tests.samples import AT, referral

pytestmark = pytest.mark.integration


@pytest.fixture
async def service(kafka: KafkaSettings) -> AsyncIterator[ReferralService]:
    svc = ReferralService(kafka)
    await svc.start()
    yield svc
    await svc.stop()


async def test_a_referral_yields_one_course_its_people_consent_and_a_receipt(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    await producer.publish(topics.referrals, referral("r-1", consent=True))
    [course] = await read_events(kafka, topics.courses, expect=1)
    assert course.type == "course.started" and course.course_id == course_id_for("r-1")  # type: ignore[attr-defined]
    people = await read_events(kafka, topics.people, expect=3)
    assert sorted(p.person.name for p in people) == [  # type: ignore[attr-defined]
        "Emma Employee", "Lars Leader", "Pia Psykolog"]
    [consent] = await read_events(kafka, topics.consents, expect=1)
    # The leader's word on the form is kept as theirs; it does not open leader contact.
    assert not consent.state.allows_leader_contact  # type: ignore[attr-defined]
    assert consent.state.stated_by_leader.agreed  # type: ignore[attr-defined]
    [receipt] = await read_events(kafka, topics.notifications_requested, expect=1)
    assert receipt.kind == "referral_receipt"  # type: ignore[attr-defined]


async def test_a_duplicate_referral_opens_nothing_new_also_after_a_restart(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer
) -> None:
    first = ReferralService(kafka)
    await first.start()
    await producer.publish(topics.referrals, referral("r-dup"))
    await producer.publish(topics.referrals, referral("r-dup"))
    await producer.publish(topics.referrals, referral("r-other"))
    assert len(await read_events(kafka, topics.courses, expect=2, settle=1.0)) == 2
    await first.stop()

    second = ReferralService(kafka)
    await second.start()
    await producer.publish(topics.referrals, referral("r-dup"))
    await producer.publish(topics.referrals, referral("r-third"))
    courses = await read_events(kafka, topics.courses, expect=3, settle=1.5)
    await second.stop()
    assert sorted(c.course_id for c in courses) == sorted(  # type: ignore[type-var]
        course_id_for(r) for r in ("r-dup", "r-other", "r-third"))


BAD_INPUTS: list[tuple[bytes, str]] = [
    (b"{not json", "invalid JSON"),
    (b"\x00\xff binary", "invalid JSON"),
    (b'"a string"', "not a JSON object"),
    (b'{"type": "referral.exploded", "schema_version": 1}', "unknown event type"),
    (json.dumps({**json.loads(encode_event(referral("r-v"))), "schema_version": 2}).encode(),
     "unsupported schema_version"),
    (encode_event(ConsentGiven(occurred_at=AT, course_id="c", party="employee",
                               scope="leader_contact")), "does not belong"),
    (json.dumps({**json.loads(encode_event(referral("r-e"))),
                 "employee": {"name": "No Channel"}}).encode(), "neither e-mail nor phone"),
    (json.dumps({**json.loads(encode_event(referral("r-l"))),
                 "leader": {"name": "L", "email": "not-an-email"}}).encode(), "leader.email"),
    (json.dumps({**json.loads(encode_event(referral("r-p"))),
                 "employee": {"name": "E", "phone": "12"}}).encode(), "phone"),
    (json.dumps({**json.loads(encode_event(referral("r-t"))),
                 "occurred_at": "2026-11-26T09:00:00"}).encode(), "occurred_at"),
]


async def test_ten_kinds_of_bad_input_end_in_the_dlq_while_good_ones_go_through_in_order(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    goods = [referral(f"good-{i}") for i in range(len(BAD_INPUTS) + 1)]
    # One key for all, so they share a partition and their order is observable.
    await producer.send(topics.referrals, encode_event(goods[0]), "intake")
    for (raw, _), good in zip(BAD_INPUTS, goods[1:], strict=True):
        await producer.send(topics.referrals, raw, "intake")
        await producer.send(topics.referrals, encode_event(good), "intake")
    dead = await read_records(kafka, topics.dlq("referrals"), expect=len(BAD_INPUTS))
    courses = await read_events(kafka, topics.courses, expect=len(goods))
    # Courses land on many partitions; the time each was opened shows the processing order.
    in_processing_order = sorted(courses, key=lambda c: c.occurred_at)
    assert [c.course_id for c in in_processing_order] == [course_id_for(g.referral_id) for g in goods]
    assert [d.value for d in dead] == [raw for raw, _ in BAD_INPUTS]
    for record, (_, reason) in zip(dead, BAD_INPUTS, strict=True):
        assert reason in dict(record.headers)["dlq.reason"].decode()


async def test_a_withdrawal_after_a_grant_leaves_no_consent_even_out_of_order(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    await producer.publish(topics.referrals, referral("r-c", consent=False))
    course_id = course_id_for("r-c")
    given = ConsentGiven(occurred_at=AT + timedelta(hours=1), course_id=course_id,
                         party="employee", scope="leader_contact")
    withdrawn = ConsentWithdrawn(occurred_at=AT + timedelta(hours=2), course_id=course_id,
                                 party="employee", scope="leader_contact")
    await producer.publish(topics.sessions, withdrawn)
    await producer.publish(topics.sessions, given)
    records = await read_events(kafka, topics.consents, expect=1, settle=2.0)
    assert not records[-1].state.allows_leader_contact  # type: ignore[attr-defined]
    assert records[-1].state.leader_contact.as_of == withdrawn.occurred_at  # type: ignore[attr-defined]


async def test_a_withdrawn_referral_cancels_its_course(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    await producer.publish(topics.referrals, referral("r-w"))
    await producer.publish(topics.referrals, ReferralWithdrawn(occurred_at=AT, referral_id="r-w"))
    events = await read_events(kafka, topics.courses, expect=2)
    assert [e.type for e in events] == ["course.started", "course.cancelled"]  # type: ignore[attr-defined]


async def test_an_erased_person_is_gone_from_the_compacted_people_view(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    from services.ops.erasure import erase
    from services.referral.domain.intake import person_id_for
    from shared.state import ChangelogTable
    from tests.integration.helpers import wait_for

    await producer.publish(topics.referrals, referral("r-x"))
    await read_events(kafka, topics.people, expect=3)
    employee_id = person_id_for(referral("r-x").employee)
    await wait_for(lambda: service.people.get(employee_id) is not None, timeout=20)
    # The erase command writes `erasures` (and cancels the course); the service tombstones.
    await erase(kafka, employee_id)
    await wait_for(lambda: service.people.get(employee_id) is None, timeout=20)
    view: ChangelogTable[bytes] = ChangelogTable(topics.people, kafka.aiokafka_kwargs(), producer,
                                                 encode=bytes, decode=bytes)
    await view.recover(range(6))
    assert view.get(employee_id) is None and len(view) == 2


async def test_a_fixed_dead_letter_can_be_replayed_and_then_opens_its_course(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService,
) -> None:
    from services.ops.dlq import read_dlq, replay
    from services.referral.domain.intake import DEVELOPMENT_ID_KEY

    broken = json.loads(encode_event(referral("r-fix")))
    broken["leader"]["email"] = "lars at example.org"
    await producer.send(topics.referrals, json.dumps(broken).encode(), "r-fix")
    await read_records(kafka, topics.dlq("referrals"), expect=1)
    [letter] = await read_dlq(kafka, "referrals")
    assert "leader.email" in letter.reason
    assert await replay(kafka, "referrals", [letter.offset], encode_event(referral("r-fix")),
                        id_key=DEVELOPMENT_ID_KEY) == 1
    [course] = await read_events(kafka, topics.courses, expect=1)
    assert course.course_id == course_id_for("r-fix")


async def test_a_cpr_number_in_a_name_is_refused_and_travels_nowhere(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = referral("r-after-cpr")
    hostile = referral("r-cpr").model_dump(mode="json")
    hostile["employee"]["name"] = "Anna 0102031234"
    await producer.send(topics.referrals, json.dumps(hostile).encode(), "r-cpr")
    await producer.publish(topics.referrals, good)
    [dead] = await read_records(kafka, topics.dlq("referrals"), expect=1)
    await read_events(kafka, topics.courses, expect=1)  # the referral after it went through
    reason = dict(dead.headers)["dlq.reason"].decode()
    assert "employee.name" in reason and "CPR" in reason and "0102031234" not in reason
    for topic in (topics.courses, topics.people, topics.consents, topics.notifications_requested,
                  topics.referral_dedup):
        for record in await read_records(kafka, topic, expect=10**6, timeout=2):
            assert b"0102031234" not in (record.value or b"") + (record.key or b""), topic
    assert "0102031234" not in capsys.readouterr().err


async def test_a_choice_of_reminders_survives_the_next_referral_that_names_the_psychologist(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    from shared.events import PersonUpserted, ReferredPerson, RemindersChosen

    silent = ReferredPerson(person_id="psy-9", name="Pia Psykolog", email="pia@tidlig.dk")
    await producer.publish(topics.referrals, referral("r-pref-1", psychologist=silent))
    await read_events(kafka, topics.people, expect=3)
    await producer.publish(topics.referrals, RemindersChosen(
        occurred_at=AT, person_id="psy-9", reminders="each", name="Pia Psykolog",
        email="pia@tidlig.dk"))
    await read_events(kafka, topics.people, expect=4)
    await producer.publish(topics.referrals, referral("r-pref-2", psychologist=silent))
    people = await read_events(kafka, topics.people, expect=7)
    pia = [e.person for e in people if isinstance(e, PersonUpserted)
           and e.person.person_id == "psy-9"]
    # Named, chose each reminder on its own, named again without a word about it: kept.
    assert [p.reminders for p in pia] == [None, "each", "each"]
    assert pia[1].model_copy(update={"reminders": None}) == pia[0]


async def test_a_later_referral_cannot_redirect_a_leader_on_record(
    kafka: KafkaSettings, topics: Topics, producer: EventProducer, service: ReferralService
) -> None:
    from shared.events import PersonUpserted, ReferredPerson

    lars = ReferredPerson(person_id="l-lars", name="Lars Leader", email="lars@example.org")
    await producer.publish(topics.referrals, referral("r-lars-1", leader=lars))
    await read_events(kafka, topics.people, expect=3)
    forged = lars.model_copy(update={"email": "mallory@evil.example", "phone": "+4530405060",
                                     "preferred_channel": "sms"})
    await producer.publish(topics.referrals, referral("r-lars-2", leader=forged))
    people = await read_events(kafka, topics.people, expect=6)
    assert len(await read_events(kafka, topics.courses, expect=2)) == 2
    written = [e.person for e in people if isinstance(e, PersonUpserted)
               and e.person.person_id == "l-lars"]
    assert [(p.email, p.phone, p.preferred_channel) for p in written] == [
        ("lars@example.org", None, None)] * 2
