"""Who may read and write which topic: one table, from which the broker's ACLs, the data map
and the per-service principals are all derived."""

from __future__ import annotations

from dataclasses import dataclass

from shared.topics import Topics


@dataclass(frozen=True)
class ServiceAccess:
    """What one service's principal needs on the broker (topic names without prefix)."""

    principal: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    groups: tuple[str, ...] = ()


# Changelogs are read back on start (restore) and written as state changes; views (the
# notifier's people and consents) are read without a group. DLQs are written only.
ACCESS: dict[str, ServiceAccess] = {
    "referral": ServiceAccess(
        principal="lederkontakt-referral",
        # `people` is its own output, read back so a referral keeps the reminders staff chose;
        # it is the only writer there. `erasures`: a referral naming an erased person is
        # refused, and an erasure tombstones the person on `people` (its own group).
        reads=("referrals", "courses", "sessions", "consents", "referral.dedup-changelog",
               "people", "erasures"),
        writes=("courses", "people", "consents", "notifications.requested",
                "referral.dedup-changelog", "referrals.dlq", "courses.dlq", "sessions.dlq"),
        groups=("referral", "referral-consent", "referral-erasure"),
    ),
    "contact-scheduler": ServiceAccess(
        principal="lederkontakt-contact-scheduler",
        reads=("courses", "sessions", "consents", "contact-scheduler.state-changelog"),
        writes=("contact-points", "contact-points.open", "notifications.requested",
                "contact-scheduler.state-changelog", "courses.dlq", "sessions.dlq",
                "consents.dlq"),
        groups=("contact-scheduler",),
    ),
    "notifier": ServiceAccess(
        principal="lederkontakt-notifier",
        # Views: people; consents, whose records also say who holds which role in a course;
        # who was erased (nothing goes out in a course about them); each course's open
        # contact points, from which the morning digests are built. Never `referrals`,
        # `courses`, `sessions` or the scheduler's state: of a course it gets ids, consent and
        # dates only.
        reads=("notifications.requested", "people", "consents", "notifier.ledger", "erasures",
               "contact-points.open"),
        writes=("notifications.status", "notifier.ledger", "notifications.requested.dlq"),
        groups=("notifier",),
    ),
    "reporting": ServiceAccess(
        principal="lederkontakt-reporting",
        reads=("referrals", "courses", "sessions", "contact-points", "consents",
               "reporting.referral-facts", "reporting.course-facts"),
        writes=("reporting.referral-facts", "reporting.course-facts", "reports"),
        groups=("reporting-intake", "reporting"),
    ),
}

# The portal shows each person their courses and the reports, and writes what people do there.
PORTAL = ServiceAccess(
    principal="lederkontakt-portal",
    reads=("referrals", "courses", "sessions", "people", "consents", "contact-points",
           "notifications.status", "reports"),
    writes=("referrals", "sessions"),
)

# Whatever else submits referrals and session events (a case system) writes only those.
INTAKE = ServiceAccess(principal="lederkontakt-intake", reads=(),
                       writes=("referrals", "sessions"))

# Operations (tail, dlq list/replay, people erase, ops page) and topic administration use a
# principal of their own; the broker's super user is only for creating topics and ACLs. It
# never writes `people`: whoever may write there can redirect every message, so an erasure
# goes on `erasures` and the referral service writes the tombstone.
OPERATOR = ServiceAccess(
    principal="lederkontakt-operator",
    reads=("referrals", "sessions", "courses", "people", "consents", "contact-points",
           "notifications.requested", "notifications.status", "referrals.dlq", "sessions.dlq",
           "courses.dlq", "people.dlq", "consents.dlq", "notifications.requested.dlq",
           "erasures", "contact-scheduler.state-changelog", "contact-points.open", "reports"),
    writes=("referrals", "sessions", "courses", "notifications.requested", "erasures"),
)


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW entry: `principal` may do `operation` on the resource."""

    principal: str
    resource_type: str  # "topic" or "group"
    name: str
    operation: str  # "read", "write" or "describe"

    def __str__(self) -> str:
        return f"User:{self.principal:34} {self.operation:8} {self.resource_type:5} {self.name}"


def acls_for(access: ServiceAccess, topics: Topics) -> list[Acl]:
    """Literal (not prefixed) resources, so a service cannot reach a topic added later.
    READ and WRITE imply DESCRIBE; since Kafka 3.0 an idempotent producer needs only WRITE."""
    entries = {Acl(access.principal, "topic", topics.name(t), "read") for t in access.reads}
    entries |= {Acl(access.principal, "topic", topics.name(t), "write") for t in access.writes}
    entries |= {Acl(access.principal, "group", f"{topics.prefix}{g}", "read")
                for g in access.groups}
    return sorted(entries)


def all_acls(topics: Topics) -> list[Acl]:
    return [acl for access in (*ACCESS.values(), PORTAL, INTAKE, OPERATOR)
            for acl in acls_for(access, topics)]


def readers_and_writers(base_topic: str) -> tuple[list[str], list[str]]:
    """The services that read and that write a topic, by the table."""
    everyone = {**ACCESS, "portal": PORTAL, "intake": INTAKE, "operators": OPERATOR}
    readers = [name for name, a in everyone.items() if base_topic in a.reads]
    writers = [name for name, a in everyone.items() if base_topic in a.writes]
    return readers, writers
