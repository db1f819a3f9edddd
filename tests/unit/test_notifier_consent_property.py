"""Over random consent histories and requests: no leader message is ever sent without the
consent that is current at the moment of sending."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.config import NotifierSettings
from services.notifier.domain.ledger import LedgerEntry
from services.notifier.handlers import NotifierHandlers
from shared.calendar import COPENHAGEN
from shared.clock import ManualClock
from shared.events import (
    ConsentState,
    ConsentStatement,
    NotificationRequested,
    Person,
)
from shared.topics import Topics
from tests.fakes import FakeProducer, FakeView, RecordingSender, RecordingSms, members_of, ready_table

AT = datetime(2026, 11, 26, 12, tzinfo=COPENHAGEN)
PEOPLE = {
    "lead": Person(person_id="lead", name="Lars", email="lars@example.org"),
    "psy": Person(person_id="psy", name="Pia", email="pia@tidlig.dk", reminders="each"),
    "emp": Person(person_id="emp", name="Emma", email="emma@example.org"),
    "boss": Person(person_id="boss", name="Bo", email="bo@tidlig.dk", reminders="each"),
}
ROLE_TO_ID = {"leader": "lead", "psychologist": "psy", "employee": "emp", "team_lead": "boss"}


consent_ops = st.tuples(st.just("consent"), st.booleans(), st.booleans())
request_ops = st.tuples(
    st.just("request"),
    st.sampled_from(["referral_receipt", "leader_call_coming", "three_party_meeting_agreed",
                     "contact_reminder", "consent_discussion_reminder", "plan_review_due"]),
    st.sampled_from(sorted(ROLE_TO_ID)),
    st.sampled_from(["none", "leader_contact", "three_party_meeting"]),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(st.one_of(consent_ops, request_ops), max_size=25))
def test_no_leader_message_without_consent_current_at_sending(ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(_run(ops))


async def _run(ops: list[tuple[Any, ...]]) -> None:
    producer = FakeProducer()
    ledger = ready_table("ledger", producer, LedgerEntry)
    consents: FakeView[ConsentState] = FakeView()
    people = FakeView(dict(PEOPLE))
    sender = RecordingSender(consents)
    handlers = NotifierHandlers(Topics(), producer, ledger, people, consents,
                                sender, RecordingSms(), ManualClock(AT), NotifierSettings(),
                                members_of("c", leader_id="lead", psychologist_id="psy",
                                           employee_id="emp", team_lead_id="boss"))
    requests: dict[str, NotificationRequested] = {}
    for i, op in enumerate(ops):
        at = AT + timedelta(minutes=i)
        if op[0] == "consent":
            statement = ConsentStatement(agreed=op[1], as_of=at)
            consents.values["c"] = ConsentState(
                leader_contact=statement,
                three_party={p: ConsentStatement(agreed=op[2], as_of=at)
                             for p in ("employee", "leader", "psychologist")})
            continue
        _, kind, role, requires = op
        request = NotificationRequested(
            occurred_at=at, course_id="c", notification_id=f"n{i}", kind=kind,
            recipient_id=ROLE_TO_ID[role], recipient_role=role, psychologist_id="psy",
            requires_consent=requires)
        requests[request.notification_id] = request
        await handlers.attempt(request, 0, attempts=0)
    for notification_id, state in sender.sent:
        request = requests[notification_id]
        if request.recipient_role == "leader" and request.kind != "referral_receipt":
            assert state.allows_leader_contact, notification_id
        if request.kind == "three_party_meeting_agreed" and request.recipient_role != "psychologist":
            assert state.allows_three_party_meeting, notification_id
