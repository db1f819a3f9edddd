"""Decode, decide, publish. State is written after its outputs, and the offset is committed
after both (FastStream acks once the handler returns), so a crash repeats work but loses none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.referral.domain import consent as consent_rules
from services.referral.domain.intake import Destination, IntakeRecord, decide_intake, stable_id
from shared.events import (
    ConsentRecorded,
    EventDecodeError,
    ReferralSubmitted,
    ReferralWithdrawn,
    decode_event,
)
from shared.kafka import EventProducer, decode_or_dead_letter
from shared.logging import get_logger
from shared.state import ChangelogTable
from shared.topics import Topics

log = get_logger("referral")
INTAKE_EVENTS = (ReferralSubmitted, ReferralWithdrawn)


@dataclass
class ReferralHandlers:
    topics: Topics
    producer: EventProducer
    intake: ChangelogTable[IntakeRecord]
    consents: ChangelogTable[ConsentRecorded]

    def _topic(self, destination: Destination) -> str:
        return {"people": self.topics.people, "courses": self.topics.courses,
                "notifications": self.topics.notifications_requested}[destination]

    async def on_referral(self, record: Any) -> None:
        await self.intake.wait_ready()
        event = await decode_or_dead_letter(self.producer, record, self.topics.dlq("referrals"),
                                            INTAKE_EVENTS)
        if event is None:
            return
        assert isinstance(event, ReferralSubmitted | ReferralWithdrawn)
        decision = decide_intake(self.intake.get(event.referral_id), event, datetime.now(UTC))
        await self.producer.publish_all([(self._topic(d), e) for d, e in decision.outputs])
        if decision.record is not None:
            await self.intake.put(event.referral_id, decision.record, record.partition)
        log.info("referral", outcome=decision.outcome, referral_id=event.referral_id,
                 course_id=decision.record.course_id if decision.record else None)

    async def on_course_or_session(self, record: Any) -> None:
        await self.consents.wait_ready()
        try:
            event = decode_event(record.value)
        except EventDecodeError:
            # The scheduler reads every course and session event too and dead-letters what it
            # cannot decode; a second DLQ entry from here would be replayed twice.
            return
        if event.course_id is None:
            return
        known = self.consents.get(event.course_id)
        updated = consent_rules.update(known.state if known else None, event)
        if updated is None:
            return
        if isinstance(updated, str):
            source = "courses" if record.topic == self.topics.courses else "sessions"
            await self.producer.dead_letter(self.topics.dlq(source), record.value, record.key,
                                            updated, (record.topic, record.partition, record.offset))
            log.warning("consent_refused", course_id=event.course_id, reason=updated)
            return
        recorded = ConsentRecorded(
            event_id=stable_id(event.course_id, "consent", str(event.event_id)),
            occurred_at=consent_rules.as_of(updated) or event.occurred_at,
            course_id=event.course_id, correlation_id=event.correlation_id, state=updated)
        # The consents topic is itself this table's changelog: the record goes to the partition
        # of the input it came from, which is where the course's next event will land too.
        await self.consents.put(event.course_id, recorded, record.partition)
        log.info("consent_recorded", course_id=event.course_id,
                 leader_contact=updated.allows_leader_contact,
                 three_party_meeting=updated.allows_three_party_meeting)
