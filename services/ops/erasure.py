"""`lederkontakt people erase P`: P is remembered as erased and every course P is employee or
leader in is cancelled, so nothing more is sent to or about P. The referral service, the only
writer of `people`, reads the erasure and tombstones P's contact details there."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.referral.domain.intake import stable_id
from shared.clock import Clock, SystemClock
from shared.events import CourseCancelled, CourseStarted, EventDecodeError, PersonErased, decode_event
from shared.kafka import EventProducer, header
from shared.reader import reading, to_end
from shared.settings import KafkaSettings
from shared.topics import Topics


@dataclass(frozen=True)
class Erasure:
    person_id: str
    courses_closed: list[str]


def courses_to_close(starts: Iterable[CourseStarted], person_id: str) -> list[str]:
    """A course whose employee or leader is erased cannot go on: every message in it would be
    to or about that person. That holds for every such course, whatever state it is in: one
    whose plan the scheduler has not made yet, one that ended and still has its end contact
    due, and one long closed (its facts in reporting go with the cancellation). A course
    where they were staff goes on (a new psychologist is assigned); their own reminders are
    suppressed as to an erased recipient."""
    return sorted({s.course_id for s in starts if s.course_id is not None
                   and person_id in (s.employee_id, s.leader_id)})


async def course_starts(settings: KafkaSettings) -> list[CourseStarted]:
    """Every `course.started` on `courses` (kept for good), read to the topic's current end."""
    starts: list[CourseStarted] = []
    kwargs = settings.aiokafka_kwargs()
    async with reading(kwargs, Topics(settings.topic_prefix).courses) as consumer:
        async for records in to_end(consumer):
            for r in records:
                if r.value is None or header(r, "type") not in (None, "course.started"):
                    continue
                try:
                    event = decode_event(r.value, (CourseStarted,))
                except EventDecodeError:
                    continue  # not a course start (or the scheduler dead-letters it)
                assert isinstance(event, CourseStarted)
                starts.append(event)
    return starts


async def erase(settings: KafkaSettings, person_id: str, clock: Clock | None = None) -> Erasure:
    erased = PersonErased(occurred_at=datetime.now(UTC), person_id=person_id)  # a bad id fails
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    try:
        # On `erasures` before `courses` is read: from then on the referral service refuses a
        # referral naming P, so no course of P's can start unseen by the reading below (and
        # the notifier holds back anything about P in a course this misses all the same).
        await producer.publish(topics.erasures, erased)
        closing = courses_to_close(await course_starts(settings), person_id)
        now = (clock or SystemClock()).now()
        await producer.publish_all([(topics.courses, CourseCancelled(
            event_id=stable_id(course_id, "erased", person_id), occurred_at=now,
            course_id=course_id, reason="person_erased")) for course_id in closing])
    finally:
        await producer.stop()
    return Erasure(person_id, closing)
