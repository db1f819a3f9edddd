"""Which topic each event type travels on, and which services write it.

The one table that routing, decoding (what may arrive on a topic), the AsyncAPI documents,
`tail --service` and the README's topic table all read. A new event type is one entry here;
`tests/unit/test_catalogue.py` walks the table so none is half added.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared import events as ev
from shared.events import EVENT_TYPES, Event

REFERRAL, SCHEDULER, NOTIFIER = "referral", "contact-scheduler", "notifier"
SERVICES = (REFERRAL, SCHEDULER, NOTIFIER)


@dataclass(frozen=True)
class Route:
    """An event type's topic (unprefixed), and the services of this system that publish it;
    none means it comes from outside (the intake form, the psychologists' systems)."""

    topic: str
    published_by: tuple[str, ...] = ()


ROUTES: dict[type[Event], Route] = {
    ev.ReferralSubmitted: Route("referrals"),
    ev.ReferralWithdrawn: Route("referrals"),
    # Staff's own choice from the portal; the referral service writes it onto `people`.
    ev.RemindersChosen: Route("referrals"),
    ev.CourseStarted: Route("courses", (REFERRAL,)),
    ev.CourseCancelled: Route("courses", (REFERRAL,)),
    ev.CourseEnded: Route("sessions"),
    ev.SessionScheduled: Route("sessions"),
    ev.SessionHeld: Route("sessions"),
    ev.SessionCancelled: Route("sessions"),
    ev.LeaderContactLogged: Route("sessions"),
    ev.FollowUpRequested: Route("sessions"),
    ev.PsychologistAssigned: Route("sessions"),
    ev.MeetingScheduled: Route("sessions"),
    ev.MeetingCancelled: Route("sessions"),
    ev.ConsentGiven: Route("sessions"),
    ev.ConsentWithdrawn: Route("sessions"),
    ev.PlanSet: Route("sessions"),
    ev.ConsentRecorded: Route("consents", (REFERRAL,)),
    ev.PersonUpserted: Route("people", (REFERRAL,)),
    ev.PersonErased: Route("people", (REFERRAL,)),
    ev.ContactPointScheduled: Route("contact-points", (SCHEDULER,)),
    ev.ContactPointDue: Route("contact-points", (SCHEDULER,)),
    ev.ContactPointOverdue: Route("contact-points", (SCHEDULER,)),
    ev.ContactPointCompleted: Route("contact-points", (SCHEDULER,)),
    ev.ContactPointCancelled: Route("contact-points", (SCHEDULER,)),
    ev.ContactPointBlocked: Route("contact-points", (SCHEDULER,)),
    # Receipts of referrals come from the referral service, reminders from the scheduler.
    ev.NotificationRequested: Route("notifications.requested", (REFERRAL, SCHEDULER)),
    ev.NotificationSent: Route("notifications.status", (NOTIFIER,)),
    ev.NotificationSuppressed: Route("notifications.status", (NOTIFIER,)),
    ev.NotificationFailed: Route("notifications.status", (NOTIFIER,)),
    ev.NotificationDeferred: Route("notifications.status", (NOTIFIER,)),
}

# The topics each service reads as a consumer group member; what it cannot read goes to the
# topic's DLQ.
INPUTS: dict[str, tuple[str, ...]] = {
    REFERRAL: ("referrals", "courses", "sessions"),
    SCHEDULER: ("courses", "sessions", "consents"),
    NOTIFIER: ("notifications.requested",),
}


def topic_of(event: Event) -> str:
    """The (unprefixed) topic an event is published on."""
    return ROUTES[type(event)].topic


@cache
def events_on(topic: str) -> tuple[type[Event], ...]:
    """Every event type that belongs on a topic (unprefixed), in the table's order."""
    return tuple(cls for cls, route in ROUTES.items() if route.topic == topic)


def event_types_on(topic: str) -> list[str]:
    return [EVENT_TYPES_BY_CLASS[cls] for cls in events_on(topic)]


def published_by(service: str) -> list[str]:
    """The topics a service publishes events on, in the table's order."""
    return list(dict.fromkeys(r.topic for r in ROUTES.values() if service in r.published_by))


def events_published(service: str, topic: str) -> tuple[type[Event], ...]:
    return tuple(cls for cls, r in ROUTES.items() if r.topic == topic and service in r.published_by)


EVENT_TYPES_BY_CLASS: dict[type[Event], str] = {cls: name for name, cls in EVENT_TYPES.items()}
