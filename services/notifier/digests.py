"""Sending the morning digests: at the reminder time of each working day, one per person.

Which notifier instance sends a person's digest follows the ledger: the digest's ledger entry
lives in the partition the person's id hashes to, and the instance that owns that partition of
`notifications.requested` sends it. The digest id (`digest:<person>:<date>`) makes the ledger
answer for repeats, so a restart around the moment, or a pass after a rebalance, sends nothing
twice (the gap that stays is the notifier's usual one: a crash between the SMTP server's
acceptance and the ledger write repeats the message with the same Message-ID).

A digest is not about one course, so the gate does not check one course's membership for it;
instead each course enters a person's digest only if its `consents` record (the members,
the same the gate asks) names that person its psychologist or team lead now, whatever the
scheduler's plan says, and each line is placed under that course's consent as it is now.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, time
from uuid import NAMESPACE_URL, uuid5

from services.notifier.adapters.views import GlobalView
from services.notifier.domain.delivery import wants_digest
from services.notifier.domain.digest import CourseContacts, build_digest, digest_id
from services.notifier.domain.digest_render import render_digest
from services.notifier.domain.membership import without_erased
from services.notifier.domain.render import Rendered
from services.notifier.handlers import NotifierHandlers
from shared.calendar import WorkingDayCalendar, at_wall_clock, local_date
from shared.clock import sleep_until
from shared.events import NotificationFacts, NotificationRequested, Person
from shared.logging import get_logger
from shared.timers import tick_forever

log = get_logger("notifier.digests")
_NS = uuid5(NAMESPACE_URL, "https://lederkontakt/notifier/digest")
LATE_AFTER_SECONDS = 60.0


class DigestSender:
    def __init__(self, handlers: NotifierHandlers, plans: GlobalView[CourseContacts],
                 calendar: WorkingDayCalendar, at: time = time(8, 30)) -> None:
        self.handlers = handlers
        self.plans = plans
        self.calendar = calendar
        self.at = at
        # Partitions whose digests of the day have been worked through by this instance.
        self._covered: tuple[date, frozenset[int]] = (date.min, frozenset())
        # Each person's courses as of the day's pass; re-read from the view at each send.
        self._courses: dict[str, list[str]] = {}
        self._courses_day = date.min
        self._pass = asyncio.Lock()

    def moment(self, day: date) -> datetime:
        return at_wall_clock(day, self.at)

    async def content(self, request: NotificationRequested, recipient: Person) -> Rendered | None:
        """The digest as it stands now: the view brought up to the changelog's end first, so a
        point completed a moment ago is not in it."""
        day = request.facts.due_date or local_date(request.occurred_at)
        await self.plans.catch_up()
        if self._courses_day != day:
            self._index(day)
        await asyncio.gather(self.handlers.members.catch_up(), self.handlers.erased.catch_up())
        courses = self._held(self._courses.get(request.recipient_id, ()))
        consents = self.handlers.consents
        digest = build_digest(request.recipient_id, day, courses, consents.get, self.calendar)
        if digest.is_empty:
            return None
        people = self.handlers.people

        def name_of(person_id: str) -> str | None:
            person = people.get(person_id)
            return person.name if person else None

        return render_digest(digest, recipient.name, recipient.language,
                             self.handlers.settings.portal_url, name_of)

    def _held(self, course_ids: list[str] | tuple[str, ...]) -> list[CourseContacts]:
        """The courses' open points, with who looks after each as the course events say; none
        of a course whose employee or leader was erased, even before the scheduler closed it."""
        held: list[CourseContacts] = []
        for course_id in course_ids:
            course = self.plans.get(course_id)
            members = without_erased(self.handlers.members.get(course_id),
                                     self.handlers.is_erased)
            if course is None or members is None or not members.started \
                    or members.closed_by_erasure:
                continue
            held.append(replace(course, psychologist_id=members.psychologist_id,
                                team_lead_id=members.team_lead_id))
        return held

    def _index(self, day: date) -> None:
        courses: dict[str, list[str]] = defaultdict(list)
        for course in self._held([c.course_id for c in self.plans.values()]):
            if course.psychologist_id:
                courses[course.psychologist_id].append(course.course_id)
            if course.team_lead_id and course.team_lead_id != course.psychologist_id:
                courses[course.team_lead_id].append(course.course_id)
        self._courses, self._courses_day = courses, day

    async def send_due(self) -> int:
        """On a working day from the reminder time on, send the digests of the partitions this
        instance owns that it has not worked through yet today; returns how many were tried."""
        handlers = self.handlers
        if not handlers.ledger.ready.is_set():
            return 0
        now = handlers.clock.now()
        day = local_date(now)
        if not self.calendar.is_working_day(day) or now < self.moment(day):
            return 0
        async with self._pass:
            owned = frozenset(handlers.ledger.owned)
            covered = self._covered[1] if self._covered[0] == day else frozenset()
            todo = owned - covered
            if not todo:
                return 0
            tried = await self._send_day(day, todo, now)
            self._covered = (day, covered | todo)
            return tried

    async def _send_day(self, day: date, partitions: frozenset[int], now: datetime) -> int:
        handlers = self.handlers
        await handlers.producer.learn_partitions(handlers.topics.notifications_requested)
        await asyncio.gather(self.plans.catch_up(), handlers.people.catch_up(),
                             handlers.members.catch_up())
        self._index(day)
        late = (now - self.moment(day)).total_seconds() > LATE_AFTER_SECONDS
        slots = asyncio.Semaphore(max(1, handlers.settings.concurrency))

        async def one(request: NotificationRequested, partition: int) -> None:
            async with slots:
                # The request's own path may have settled it meanwhile (a retry, a rebalance).
                if handlers.ledger.get(request.notification_id) is None:
                    await handlers.attempt(request, partition, attempts=0, own=True)

        tasks = [asyncio.create_task(one(*due))
                 for person_id, course_ids in self._courses.items()
                 if (due := self._due(person_id, course_ids, day, partitions, now, late))]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        log.info("digests_sent", day=day.isoformat(), people=len(self._courses),
                 partitions=sorted(partitions), tried=len(tasks), failed=len(failed), late=late)
        if failed:
            # The partitions are not marked covered: the next pass tries what is not settled.
            raise failed[0]
        return len(tasks)

    def _due(self, person_id: str, course_ids: list[str], day: date, partitions: frozenset[int],
             now: datetime, late: bool) -> tuple[NotificationRequested, int] | None:
        """A person's digest request of the day and its ledger partition, if this instance owns
        that partition, the digest is not settled yet, and it has something to say."""
        handlers = self.handlers
        partition = handlers.producer.partition_for(handlers.topics.notifications_requested,
                                                    person_id.encode())
        nid = digest_id(person_id, day)
        if partition is None or partition not in partitions \
                or handlers.ledger.get(nid) is not None:
            return None
        person = handlers.people.get(person_id)
        if person is None or not wants_digest(person):
            return None
        courses = self._held(course_ids)
        if build_digest(person_id, day, courses, handlers.consents.get, self.calendar).is_empty:
            return None  # nothing to say: no mail, and nothing in the ledger either
        own = any(c.psychologist_id == person_id for c in courses)
        return NotificationRequested(
            event_id=uuid5(_NS, nid), occurred_at=now, notification_id=nid, kind="daily_digest",
            recipient_id=person_id, recipient_role="psychologist" if own else "team_lead",
            requires_consent="none", facts=NotificationFacts(due_date=day), late=late), partition

    async def run(self) -> None:
        clock = self.handlers.clock

        def pause() -> float:
            upcoming = self.calendar.next_working_moment(clock.now(), self.at)
            return sleep_until(clock, upcoming, self.handlers.settings.tick_seconds)

        await tick_forever(self.send_due, pause, "digest_pass_failed", log)
