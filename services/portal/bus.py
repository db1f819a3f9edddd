"""The portal's way onto the topics: publish one event for one action, never twice for one
form, and wait until the portal's own view has read it (read your own write)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from faststream.kafka import KafkaBroker

from services.portal.domain.views import PortalView
from shared.events import Event, encode_event
from shared.logging import get_logger

log = get_logger(__name__)
FORM_NAMESPACE = uuid5(NAMESPACE_URL, "https://lederkontakt/portal/forms")


class BrokerUnavailable(Exception):
    """Kafka did not take the event: nothing was written, the person should try again."""


@dataclass(frozen=True)
class Written:
    topic: str
    partition: int
    offset: int


def form_event_id(person_id: str, form_key: str) -> UUID:
    """A form's idempotency key, per person, becomes the event id: a refresh or double click
    produces the same event id, which is published once."""
    return uuid5(FORM_NAMESPACE, f"{person_id}/{form_key}")


class Publisher:
    def __init__(self, broker: KafkaBroker, view: PortalView, timeout: float) -> None:
        self.broker = broker
        self.view = view
        self.timeout = timeout
        self.connected = asyncio.Event()
        self._in_flight: set[UUID] = set()

    async def publish(self, topic: str, event: Event) -> Written | None:
        """Publish `event`, or return None when an event with its id was already published
        (the view has seen it, or this process is publishing it right now)."""
        if event.event_id in self.view.seen_event_ids or event.event_id in self._in_flight:
            return None
        if not self.connected.is_set():
            raise BrokerUnavailable("not connected to Kafka")
        self._in_flight.add(event.event_id)
        try:
            meta = await asyncio.wait_for(
                self.broker.publish(encode_event(event), topic,
                                    key=event.key.encode() if event.key else None,
                                    headers={"type": getattr(event, "type", "")}),
                self.timeout)
        except Exception as exc:
            # Discarded, so a retry of the same form publishes it (with the same event id).
            self._in_flight.discard(event.event_id)
            log.warning("publish_failed", topic=topic, error=type(exc).__name__)
            raise BrokerUnavailable(str(exc)) from exc
        log.info("published", topic=topic, type=getattr(event, "type", ""),
                 course_id=event.course_id, partition=meta.partition, offset=meta.offset)
        return Written(topic, meta.partition, meta.offset)

    async def until_seen(self, written: Written | None, timeout: float) -> bool:
        """True once the view has consumed `written` (at once for a repeat); False on timeout."""
        if written is None:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.view.has_consumed(written.topic, written.partition, written.offset):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True
