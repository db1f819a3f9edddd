"""Reading the published reports back: the latest of each key on the compacted `reports` topic."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.reporting.domain.report import Report
from shared.logging import get_logger
from shared.settings import KafkaSettings
from shared.topics import Topics

log = get_logger("reporting")


async def read_reports(settings: KafkaSettings) -> dict[str, Report]:
    topic = Topics(settings.topic_prefix).reports
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    reports: dict[str, Report] = {}
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return reports
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        pending = [tp for tp in tps if end[tp] > 0]
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.key is None or record.offset >= end[tp]:
                        continue
                    key = record.key.decode()
                    if record.value is None:
                        reports.pop(key, None)
                        continue
                    try:
                        reports[key] = Report.model_validate_json(record.value)
                    except ValidationError as exc:
                        log.error("report_unreadable", key=key, error=str(exc)[:200])
            pending = [tp for tp in pending if await consumer.position(tp) < end[tp]]
    finally:
        await consumer.stop()
    return reports
