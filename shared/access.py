"""Who may read and write which topic: one table, from which the broker's ACLs, the data map
and the per-service principals are all derived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.topics import Topics


@dataclass(frozen=True)
class ServiceAccess:
    """What one service's principal needs on the broker (topic names without prefix)."""

    principal: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    groups: tuple[str, ...] = ()
    # Why it needs a topic, where that is not plain from what the service does (the README's
    # Access table is generated from these, see `lederkontakt acls table`).
    why: Mapping[str, str] = field(default_factory=dict, compare=False)


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
        why={"people": "its own output, read back: a referral keeps the reminders staff chose; "
                       "the only writer",
             "erasures": "a referral naming an erased person is refused; an erasure "
                         "tombstones the person on `people`",
             "consents": "each course's consent and who holds which role in it, from the "
                         "course's own events"},
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
        why={"people": "whom to reach, and how",
             "consents": "each course's consent and who holds which role in it",
             "erasures": "keyed ids: nothing goes out in a course about an erased person",
             "contact-points.open": "ids, kinds and dates of each course's open points: the "
                                    "morning digests"},
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
    why={"people": "names to show; an erased person leaves the view"},
)

# Whatever else submits referrals and session events (a case system) writes only those.
INTAKE = ServiceAccess(principal="lederkontakt-intake", reads=(),
                       writes=("referrals", "sessions"))

# Operations (tail, dlq list, people erase, ops page) and topic administration use a principal
# of their own; the broker's super user is only for creating topics and ACLs. It never writes
# `people`: whoever may write there can redirect every message, so an erasure goes on
# `erasures` and the referral service writes the tombstone. Nor does it write `sessions` or
# `notifications.requested`: with `courses` those would let it open a course, state the
# employee's consent and ask for a message to the leader. It writes `courses` only for the
# cancellations `people erase` publishes.
OPERATOR = ServiceAccess(
    principal="lederkontakt-operator",
    reads=("referrals", "sessions", "courses", "people", "consents", "contact-points",
           "notifications.requested", "notifications.status", "referrals.dlq", "sessions.dlq",
           "courses.dlq", "people.dlq", "consents.dlq", "notifications.requested.dlq",
           "erasures", "contact-scheduler.state-changelog", "contact-points.open", "reports"),
    writes=("courses", "erasures"),
    why={"contact-scheduler.state-changelog": "for `tail`"},
)

# `dlq replay` re-publishes fixed dead letters onto the topics they failed on: a credential of
# its own, used on the rare occasion, so the everyday operator's cannot write those topics.
REPLAY = ServiceAccess(
    principal="lederkontakt-replay",
    reads=("referrals.dlq", "sessions.dlq", "courses.dlq", "notifications.requested.dlq",
           "erasures"),
    writes=("referrals", "sessions", "courses", "notifications.requested"),
    why={"erasures": "a dead letter naming an erased person is not replayed"},
)

# Every principal, in the order the README's Access table lists them.
PRINCIPALS: tuple[ServiceAccess, ...] = (*ACCESS.values(), PORTAL, INTAKE, OPERATOR, REPLAY)


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
    return [acl for access in PRINCIPALS for acl in acls_for(access, topics)]


def readers_and_writers(base_topic: str) -> tuple[list[str], list[str]]:
    """The services that read and that write a topic, by the table."""
    everyone = {**ACCESS, "portal": PORTAL, "intake": INTAKE, "operators": OPERATOR,
                "replay": REPLAY}
    readers = [name for name, a in everyone.items() if base_topic in a.reads]
    writers = [name for name, a in everyone.items() if base_topic in a.writes]
    return readers, writers
