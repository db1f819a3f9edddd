"""Every topic of the system, its partitions and cleanup policy, and idempotent creation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.catalogue import topic_of
from shared.events import Event

DEFAULT_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    name: str
    cleanup: Literal["delete", "compact"] = "delete"
    has_dlq: bool = False
    partitions: int = DEFAULT_PARTITIONS
    retention_ms: int = 14 * 24 * 3600 * 1000

    def configs(self) -> dict[str, str]:
        if self.cleanup == "compact":
            # Small segments let the cleaner run while a topic is still young.
            return {"cleanup.policy": "compact", "segment.ms": "3600000",
                    "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": "86400000"}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


# Who holds which role in a course (course.started, psychologist.assigned) is rebuilt from these
# two topics by the notifier's membership view, and a course lasts months: they must outlive it.
# They carry ids and states only, never names, contact details or session content.
_COURSE_LIFETIME_MS = -1


# Changelogs share their input's partition count: a record's state lives in the changelog
# partition with the same number as the input partition it came from.
SPECS: tuple[TopicSpec, ...] = (
    TopicSpec("referrals", has_dlq=True),
    TopicSpec("sessions", has_dlq=True, retention_ms=_COURSE_LIFETIME_MS),
    TopicSpec("courses", has_dlq=True, retention_ms=_COURSE_LIFETIME_MS),
    TopicSpec("people", cleanup="compact", has_dlq=True),
    TopicSpec("consents", cleanup="compact", has_dlq=True),
    TopicSpec("contact-points"),
    TopicSpec("notifications.requested", has_dlq=True),
    TopicSpec("notifications.status"),
    TopicSpec("referral.dedup-changelog", cleanup="compact"),
    TopicSpec("contact-scheduler.state-changelog", cleanup="compact"),
    TopicSpec("notifier.ledger", cleanup="compact"),
    TopicSpec("reporting.referral-facts"),
    TopicSpec("reporting.course-facts", cleanup="compact"),
    TopicSpec("reports", cleanup="compact", partitions=1),
)


@dataclass(frozen=True)
class Topics:
    """Topic names, optionally prefixed (tests give each run its own prefix)."""

    prefix: str = ""

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def dlq(self, base: str) -> str:
        return f"{self.prefix}{base}.dlq"

    def for_event(self, event: Event) -> str:
        """The topic the catalogue routes this event to."""
        return f"{self.prefix}{topic_of(event)}"

    def base(self, topic: str) -> str:
        """A topic's name without the prefix."""
        return topic.removeprefix(self.prefix)

    @property
    def referrals(self) -> str:
        return self.name("referrals")

    @property
    def sessions(self) -> str:
        return self.name("sessions")

    @property
    def courses(self) -> str:
        return self.name("courses")

    @property
    def people(self) -> str:
        return self.name("people")

    @property
    def consents(self) -> str:
        return self.name("consents")

    @property
    def contact_points(self) -> str:
        return self.name("contact-points")

    @property
    def notifications_requested(self) -> str:
        return self.name("notifications.requested")

    @property
    def notifications_status(self) -> str:
        return self.name("notifications.status")

    @property
    def referral_dedup(self) -> str:
        return self.name("referral.dedup-changelog")

    @property
    def scheduler_state(self) -> str:
        return self.name("contact-scheduler.state-changelog")

    @property
    def notifier_ledger(self) -> str:
        return self.name("notifier.ledger")

    @property
    def reporting_referral_facts(self) -> str:
        return self.name("reporting.referral-facts")

    @property
    def reporting_facts(self) -> str:
        return self.name("reporting.course-facts")

    @property
    def reports(self) -> str:
        return self.name("reports")

    def all_specs(self) -> list[TopicSpec]:
        specs: list[TopicSpec] = []
        for spec in SPECS:
            specs.append(TopicSpec(self.name(spec.name), spec.cleanup, spec.has_dlq, spec.partitions))
            if spec.has_dlq:
                specs.append(TopicSpec(self.dlq(spec.name), "delete", False, 1))
        return specs


class ReplicationError(Exception):
    """The topics cannot be replicated as asked on this cluster; printed as one line."""


def replication_for(brokers: int, requested: int | None = None) -> int:
    """Three copies of every topic once the cluster has three brokers, else one; an explicit
    factor must fit the cluster, since Kafka would refuse it anyway, topic by topic."""
    factor = requested if requested is not None else (3 if brokers >= 3 else 1)
    if factor < 1:
        raise ReplicationError(f"replication factor must be at least 1, not {factor}")
    if factor > brokers:
        raise ReplicationError(f"replication factor {factor} needs at least {factor} brokers; "
                               f"the cluster has {brokers}")
    return factor


def replication_configs(factor: int) -> dict[str, str]:
    """With three copies a write counts once two of them have it (acks=all), so one broker can
    be lost or restarted without losing an acknowledged record or stopping writes. A replica
    that fell out of sync never becomes leader: that would silently drop acknowledged records."""
    return {"min.insync.replicas": "2" if factor >= 3 else "1",
            "unclean.leader.election.enable": "false"}


async def create_topics(
    kafka_kwargs: dict[str, Any], topics: Topics, replication_factor: int | None = None
) -> list[str]:
    """Create every missing topic; existing ones are left as they are. Returns those created.
    The replication factor is `replication_factor`, or follows the cluster's size."""
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        factor = replication_for(brokers, replication_factor)
        existing = set(await admin.list_topics())
        wanted = [s for s in topics.all_specs() if s.name not in existing]
        if not wanted:
            return []
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, factor,
                      topic_configs={**s.configs(), **replication_configs(factor)})
             for s in wanted]
        )
        created: list[str] = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:  # another creator won the race
                raise RuntimeError(f"could not create topic {name}: {for_code(code).__name__}")
        return created
    finally:
        await admin.close()
