"""`lederkontakt people erase P`: P is remembered as erased, P's open courses are closed, and
P's contact details are tombstoned, so nothing more is sent to or about P."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.contact_scheduler.domain.plan import CoursePlan
from services.referral.domain.intake import stable_id
from services.referral.erase import erase_person
from shared.clock import Clock, SystemClock
from shared.events import CourseCancelled, PersonErased
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.state import ChangelogTable
from shared.topics import SPECS, Topics


@dataclass(frozen=True)
class Erasure:
    person_id: str
    courses_closed: list[str]


def courses_to_close(plans: list[CoursePlan], person_id: str) -> list[str]:
    """A course whose employee or leader is erased cannot go on: every message in it would be
    to or about that person. A course where they were staff goes on (a new psychologist is
    assigned); their own reminders are suppressed as to an erased recipient."""
    return sorted(p.course_id for p in plans
                  if p.status in ("pending", "open") and person_id in (p.employee_id,
                                                                       p.leader_id))


async def erase(settings: KafkaSettings, person_id: str, clock: Clock | None = None) -> Erasure:
    PersonErased(occurred_at=datetime.now(UTC), person_id=person_id)  # a bad id fails here
    topics = Topics(settings.topic_prefix)
    kwargs = settings.aiokafka_kwargs()
    producer = EventProducer(kwargs)
    await producer.start()
    try:
        # The scheduler's compacted state holds every live course with its people, also those
        # whose `course.started` has left the `courses` topic.
        plans: ChangelogTable[CoursePlan] = ChangelogTable(
            topics.scheduler_state, kwargs, producer, encode=lambda p: p.model_dump_json().encode(),
            decode=CoursePlan.model_validate_json)
        partitions = next(s.partitions for s in SPECS if s.name == "contact-scheduler.state-changelog")
        await plans.recover(range(partitions))
        closing = courses_to_close([plan for _, plan in plans.items()], person_id)
        now = (clock or SystemClock()).now()
        await producer.publish_all([(topics.courses, CourseCancelled(
            event_id=stable_id(course_id, "erased", person_id), occurred_at=now,
            course_id=course_id, reason="person_erased")) for course_id in closing])
    finally:
        await producer.stop()
    await erase_person(settings, person_id)
    return Erasure(person_id, closing)
