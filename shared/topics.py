"""Every topic of the system, its partitions, cleanup and retention, and idempotent creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.catalogue import topic_of
from shared.events import Event

DEFAULT_PARTITIONS = 6
HOUR_MS = 3600 * 1000


class RetentionSettings(BaseSettings):
    """How long records may live, read from LEDERKONTAKT_RETENTION_* env vars.

    Kafka deletes a closed segment once its newest record is older than `retention.ms`, and a
    segment closes after `segment.ms` once a record arrives; the cleaner compacts a closed
    segment's replaced values at most `max.compaction.lag.ms` after they were replaced. So a
    record of a topic holding contact details is gone from disk within `erasure_bound_ms` (plus
    the broker's retention check interval, 5 minutes by default), as long as records keep
    arriving (the referral service rolls `people` for that)."""

    model_config = SettingsConfigDict(env_prefix="LEDERKONTAKT_RETENTION_", extra="ignore")

    erasure_bound_ms: int = 24 * HOUR_MS
    events_ms: int = 14 * 24 * HOUR_MS
    events_segment_ms: int = HOUR_MS
    # The state of a course (plan, consent) is tombstoned this long after it ended or was
    # cancelled; the services look for such courses every `ended_course_sweep_seconds`.
    ended_course_days: float = 90
    ended_course_sweep_seconds: float = 3600

    @property
    def ended_course_keep(self) -> timedelta:
        return timedelta(days=self.ended_course_days)

    @property
    def personal_ms(self) -> int:
        """Raw intake and DLQs: half the bound, so a closed segment is due well within it."""
        return self.erasure_bound_ms // 2

    @property
    def personal_segment_ms(self) -> int:
        return max(1, self.erasure_bound_ms // 8)

    @property
    def compaction_lag_ms(self) -> int:
        return max(1, self.erasure_bound_ms // 4)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    cleanup: Literal["delete", "compact"] = "delete"
    has_dlq: bool = False
    partitions: int = DEFAULT_PARTITIONS
    # Carries names, e-mails, phones or health fields in the clear: retention within the bound.
    personal: bool = False
    retention: RetentionSettings = field(default_factory=RetentionSettings, compare=False,
                                         repr=False)
    # A retention of its own instead of the events' (-1: kept for as long as courses last).
    retention_ms: int | None = None

    def configs(self) -> dict[str, str]:
        r = self.retention
        if self.cleanup == "compact":
            # Small segments let the cleaner run while a topic is still young; the compaction
            # lag makes the cleaner remove an overwritten or tombstoned value within the bound.
            return {"cleanup.policy": "compact", "segment.ms": str(r.personal_segment_ms),
                    "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": "86400000",
                    "max.compaction.lag.ms": str(r.compaction_lag_ms)}
        if self.personal:
            # Retention counts from when the broker appended the record, not from a timestamp
            # its producer chose: a record stamped in the future would otherwise outlive the
            # bound (a segment is deleted once its newest timestamp is older than retention).
            return {"cleanup.policy": "delete", "retention.ms": str(r.personal_ms),
                    "segment.ms": str(r.personal_segment_ms),
                    "message.timestamp.type": "LogAppendTime"}
        # Without segment.ms a quiet topic's only segment would never close, and never expire.
        retention_ms = self.retention_ms if self.retention_ms is not None else r.events_ms
        return {"cleanup.policy": "delete", "retention.ms": str(retention_ms),
                "segment.ms": str(r.events_segment_ms)}


# The portal rebuilds its courses from these two topics, the erase command finds a person's
# courses in `courses`, and a course lasts months: they must outlive it.
# They carry keyed ids and states only, never names, contact details or session content.
_COURSE_LIFETIME_MS = -1


# Changelogs share their input's partition count: a record's state lives in the changelog
# partition with the same number as the input partition it came from.
SPECS: tuple[TopicSpec, ...] = (
    TopicSpec("referrals", has_dlq=True, personal=True),
    TopicSpec("sessions", has_dlq=True, retention_ms=_COURSE_LIFETIME_MS),
    TopicSpec("courses", has_dlq=True, retention_ms=_COURSE_LIFETIME_MS),
    TopicSpec("people", cleanup="compact", has_dlq=True, personal=True),
    TopicSpec("consents", cleanup="compact", has_dlq=True),
    TopicSpec("contact-points"),
    # Each course's open contact points by id and date, for the morning digests.
    TopicSpec("contact-points.open", cleanup="compact"),
    TopicSpec("notifications.requested", has_dlq=True),
    TopicSpec("notifications.status"),
    TopicSpec("referral.dedup-changelog", cleanup="compact"),
    TopicSpec("contact-scheduler.state-changelog", cleanup="compact"),
    TopicSpec("notifier.ledger", cleanup="compact"),
    # A referral's health fields (stress-related, sick leave) per course id, on their way to
    # the course's facts: kept no longer than personal data.
    TopicSpec("reporting.referral-facts", personal=True),
    TopicSpec("reporting.course-facts", cleanup="compact"),
    TopicSpec("reports", cleanup="compact", partitions=1),
    # Who was erased (keyed ids only), so nothing replayed or re-read can bring them back.
    TopicSpec("erasures", cleanup="compact", partitions=1),
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
    def open_points(self) -> str:
        return self.name("contact-points.open")

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

    @property
    def erasures(self) -> str:
        return self.name("erasures")

    def all_specs(self, retention: RetentionSettings | None = None) -> list[TopicSpec]:
        """Every topic with its prefixed name. A DLQ holds the raw bytes of whatever failed, so
        it is kept only as long as personal data may be."""
        r = retention or RetentionSettings()
        specs: list[TopicSpec] = []
        for spec in SPECS:
            specs.append(TopicSpec(self.name(spec.name), spec.cleanup, spec.has_dlq,
                                   spec.partitions, spec.personal, r, spec.retention_ms))
            if spec.has_dlq:
                specs.append(TopicSpec(self.dlq(spec.name), "delete", False, 1, True, r))
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
    kafka_kwargs: dict[str, Any], topics: Topics, replication_factor: int | None = None,
    retention: RetentionSettings | None = None,
) -> list[str]:
    """Create every missing topic; existing ones are left as they are (`reconcile_topics`
    aligns their settings). Returns those created. The replication factor is
    `replication_factor`, or follows the cluster's size."""
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        factor = replication_for(brokers, replication_factor)
        existing = set(await admin.list_topics())
        wanted = [s for s in topics.all_specs(retention) if s.name not in existing]
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


# DescribeConfigs' config_source for a value set on the topic itself.
_TOPIC_OVERRIDE = 1


@dataclass(frozen=True)
class ConfigDifference:
    topic: str
    key: str
    have: str | None
    want: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.key} is {self.have or '(broker default)'}, want {self.want}"


async def topic_config_differences(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec]
) -> tuple[list[ConfigDifference], dict[str, dict[str, str]]]:
    """What the existing topics' settings differ in from the registry, and each topic's own
    overrides (so an alteration keeps those the registry does not manage)."""
    if not specs:
        return [], {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs])
    overrides: dict[str, dict[str, str]] = {}
    effective: dict[str, dict[str, str]] = {}
    for response in responses:
        for error_code, _message, _type, name, entries in response.resources:
            if error_code:
                raise RuntimeError(f"could not read the settings of {name}: "
                                   f"{for_code(error_code).__name__}")
            effective[name] = {e[0]: e[1] for e in entries}
            overrides[name] = {e[0]: e[1] for e in entries if e[3] == _TOPIC_OVERRIDE}
    differences = [
        ConfigDifference(spec.name, key, effective.get(spec.name, {}).get(key), want)
        for spec in specs for key, want in spec.configs().items()
        if effective.get(spec.name, {}).get(key) != want
    ]
    return differences, overrides


async def reconcile_topics(
    kafka_kwargs: dict[str, Any], topics: Topics, *, alter: bool = True,
    retention: RetentionSettings | None = None,
) -> list[ConfigDifference]:
    """Compare the existing topics' settings with the registry and, with `alter`, set them.
    Returns the differences found (before altering)."""
    admin = AIOKafkaAdminClient(**kafka_kwargs)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = [s for s in topics.all_specs(retention) if s.name in existing]
        differences, overrides = await topic_config_differences(admin, specs)
        if alter and differences:
            changed = {d.topic for d in differences}
            # AlterConfigs replaces a topic's whole set of overrides: keep the ones we do not
            # manage (e.g. replication settings), replace the ones we do.
            resources = [ConfigResource(ConfigResourceType.TOPIC, s.name,
                                        {**overrides.get(s.name, {}), **s.configs()})
                         for s in specs if s.name in changed]
            for response in await admin.alter_configs(resources):
                for error_code, message, _type, name in response.resources:
                    if error_code:
                        raise RuntimeError(f"could not alter {name}: "
                                           f"{for_code(error_code).__name__} {message or ''}")
        return differences
    finally:
        await admin.close()
