"""Decode, fold into the course's facts, write the changelog. Offsets are committed after the
changelog write (FastStream acks the batch when the handler returns), so a crash repeats
folding, which the facts absorb: every fold is idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.referral.domain.intake import course_id_for
from services.reporting.domain.facts import (
    CourseFacts,
    ReferralFacts,
    apply_referral,
    fold_event,
    from_referral,
)
from shared.events import Event, EventDecodeError, ReferralSubmitted, decode_event
from shared.kafka import EventProducer, Record
from shared.logging import get_logger
from shared.state import ChangelogTable
from shared.topics import Topics

log = get_logger("reporting")
REFERRAL_FACTS_TYPE = b"reporting.referral_facts"


@dataclass
class ReportingHandlers:
    topics: Topics
    producer: EventProducer
    facts: ChangelogTable[CourseFacts]
    known_units: dict[str, str]
    changes: int = field(default=0)

    async def on_referrals(self, records: Sequence[Any]) -> None:
        """A referral is keyed by its referral id; its facts go on, keyed by the course id
        the intake derives from it, to meet the course's other events in one partition."""
        out: list[Record] = []
        for record in records:
            try:
                event = decode_event(record.value, (ReferralSubmitted,))
            except EventDecodeError:
                continue  # the referral service dead-letters what cannot be read
            assert isinstance(event, ReferralSubmitted)
            # The course id is the intake's pure function of the referral id: recomputed here,
            # the reports need no lookup table (and no wait for the course to open).
            facts = from_referral(event, course_id_for(event.referral_id), self.known_units)
            out.append((self.topics.reporting_referral_facts, None, facts.course_id.encode(),
                        facts.model_dump_json().encode(), [("type", REFERRAL_FACTS_TYPE)]))
        if out:
            await self.producer.send_records(out)

    async def on_course_events(self, records: Sequence[Any]) -> None:
        await self.facts.wait_ready()
        changed: dict[str, tuple[CourseFacts, int]] = {}
        for record in records:
            parsed = self._parse(record)
            if parsed is None or parsed.course_id is None:
                continue
            course_id = parsed.course_id
            known = changed[course_id][0] if course_id in changed else self.facts.get(course_id)
            if isinstance(parsed, ReferralFacts):
                updated: CourseFacts | None = apply_referral(known, parsed)
            else:
                updated = fold_event(known, parsed)
            if updated is not None and updated != known:
                changed[course_id] = (updated, record.partition)
        if changed:
            await self.facts.put_many([(k, v, p) for k, (v, p) in changed.items()])
            self.changes += len(changed)

    def _parse(self, record: Any) -> ReferralFacts | Event | None:
        if record.topic == self.topics.reporting_referral_facts:
            try:
                return ReferralFacts.model_validate_json(record.value)
            except (ValidationError, TypeError) as exc:
                log.error("referral_facts_unreadable", offset=record.offset, error=str(exc)[:200])
                return None
        try:
            return decode_event(record.value)
        except EventDecodeError:
            return None  # the services owning these topics dead-letter what cannot be read
