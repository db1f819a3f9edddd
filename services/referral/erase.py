from __future__ import annotations

from datetime import UTC, datetime

from shared.events import PersonErased
from shared.kafka import EventProducer
from shared.settings import KafkaSettings
from shared.topics import Topics


async def erase_person(settings: KafkaSettings, person_id: str) -> None:
    """Erasure is a tombstone on `people` (compaction then removes the details for good),
    preceded by a `person.erased` event so live views drop the person at once. The id goes on
    `erasures` first, so a replayed dead letter cannot bring the person back."""
    erased = PersonErased(occurred_at=datetime.now(UTC), person_id=person_id)  # validates the id
    topics = Topics(settings.topic_prefix)
    producer = EventProducer(settings.aiokafka_kwargs())
    await producer.start()
    try:
        await producer.publish(topics.erasures, erased)
        await producer.publish(topics.people, erased)
        await producer.send(topics.people, None, person_id)
    finally:
        await producer.stop()
