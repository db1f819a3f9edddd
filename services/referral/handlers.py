"""Decode, decide, publish. State is written after its outputs, and the offsets are committed
after both (FastStream acks a batch once the handler returns), so a crash repeats work but loses
none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.referral.domain import consent as consent_rules
from services.referral.domain import members as course_members
from services.referral.domain.intake import (
    DEVELOPMENT_ID_KEY,
    IntakeDecision,
    IntakeRecord,
    closed_since,
    decide_intake,
    names_erased,
    refuse_as_erased,
    stable_id,
    taken_back,
)
from services.referral.domain.people import Known, choose_reminders
from services.referral.domain.staff import StaffDirectory, assignment_refusal, resolve_staff
from shared import telemetry
from shared.catalogue import events_on
from shared.clock import Clock, SystemClock
from shared.events import (
    ConsentRecorded,
    ConsentState,
    CourseCancelled,
    CourseEnded,
    CourseMembers,
    CourseStarted,
    Event,
    EventDecodeError,
    Person,
    PersonErased,
    PersonUpserted,
    PsychologistAssigned,
    ReferralSubmitted,
    ReferralWithdrawn,
    RemindersChosen,
    decode_event,
)
from shared.kafka import (
    Publisher,
    Record,
    decode_or_dead_letter,
    event_record,
    home_partition,
    refusal,
)
from shared.logging import get_logger
from shared.state import ChangelogTable
from shared.topics import Topics

log = get_logger("referral")
# The `courses` and `sessions` records of the given partitions, from the beginning to their
# current end, a batch at a time.
CourseHistory = Callable[[list[int]], AsyncIterator[Sequence[Any]]]


class PeopleView(Protocol):
    """Who is on `people` now (the service's own output, read back as a whole-topic view)."""

    def get(self, key: str) -> Person | None: ...

    async def catch_up(self) -> None: ...


class NoPeopleView:
    """For tests of the intake alone: nobody is on record."""

    def get(self, key: str) -> Person | None:
        return None

    async def catch_up(self) -> None: ...


class ErasedView(Protocol):
    """Who has been erased (the compacted `erasures` topic, read as a whole-topic view)."""

    def get(self, key: str) -> object | None: ...

    async def catch_up(self) -> None: ...


def _log_kept_details(referral_id: str | None, decision: IntakeDecision) -> None:
    """Which details a referral gave for someone on record that were not taken, by role and
    field name only: the values are personal data, and the person's id would say whose."""
    for role, fields in decision.kept_on_record:
        log.warning("referral_details_not_taken", referral_id=referral_id,
                    course_id=decision.record.course_id if decision.record else None,
                    party=role, fields=list(fields),
                    detail=f"the {role} is on record already: their recorded "
                           f"{', '.join(fields)} kept; the referral's differ")


@dataclass
class ReferralHandlers:
    topics: Topics
    producer: Publisher
    intake: ChangelogTable[IntakeRecord]
    consents: ChangelogTable[ConsentRecorded]
    clock: Clock = field(default_factory=SystemClock)
    people: PeopleView = field(default_factory=NoPeopleView)
    id_key: bytes = DEVELOPMENT_ID_KEY
    # Without a directory the referral's staff are taken as named (development and tests).
    staff: StaffDirectory | None = None
    erased: ErasedView = field(default_factory=NoPeopleView)
    consent_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    intake_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The rebuild of the consents table whose records were last given their members from the
    # course events (back_fill_members).
    members_back_filled: int = -1

    async def on_referral(self, record: Any) -> None:
        await self.on_referrals([record])

    async def on_referrals(self, records: Sequence[Any]) -> None:
        await self.intake.wait_ready()
        # The retention pass changes the same table: never in the middle of a batch.
        async with self.intake_lock:
            await self._referral_batch(records)

    async def stamp_closed_courses(self, course_closed_at: Callable[[str], datetime | None]) -> int:
        """Each dedup record whose course has closed takes the moment it closed (read from the
        course's consent record, which goes at the same retention), so the record's own
        retention can count from it after the consent record is gone."""
        async with self.intake_lock:
            stamped = [(key, updated, partition) for key, record in self.intake.items()
                       if record.course_id is not None
                       and (partition := self.intake.partition_of(key)) is not None
                       and (updated := closed_since(record, course_closed_at(record.course_id)))]
            if stamped:
                await self.intake.put_many(stamped)
        return len(stamped)

    async def _referral_batch(self, records: Sequence[Any]) -> None:
        """A batch, in order: each referral is decided against the state left by the ones before
        it; then the outputs go out, then the state, then the offsets are committed."""
        # Staff re-upserted from a referral keep the reminder preference they chose on the
        # portal: `people` is read up to its end first, and this batch's own upserts count
        # before it. (A choice written while this batch is under way can still be missed.)
        # Everyone erased before this batch was read is known before any of it is decided.
        await asyncio.gather(self.people.catch_up(), self.erased.catch_up())
        upserted: dict[str, Person] = {}
        started: list[CourseStarted] = []
        decided: dict[str, tuple[IntakeRecord, int]] = {}
        outputs: list[Record] = []
        for record in records:
            decided_now = await self._decide(
                record, decided, lambda pid: upserted.get(pid) or self.people.get(pid))
            if decided_now is None:
                continue
            referral_id, decision = decided_now
            # Encoded here, so each record carries the trace of the referral it came from.
            outputs.extend(event_record(self.topics.for_event(e), e) for e in decision.outputs)
            upserted.update((e.person.person_id, e.person) for e in decision.outputs
                            if isinstance(e, PersonUpserted))
            started.extend(e for e in decision.outputs if isinstance(e, CourseStarted))
            if decision.record is not None and referral_id is not None:
                decided[referral_id] = (decision.record, record.partition)
            log.info("referral", outcome=decision.outcome, referral_id=referral_id,
                     course_id=decision.record.course_id if decision.record else None)
            _log_kept_details(referral_id, decision)
        with telemetry.batch_stage("publish"):
            await self._publish_people_first(outputs)
        with telemetry.batch_stage("state write"):
            await self.intake.put_many([(k, v, p) for k, (v, p) in decided.items()])
        await self._undo_for_the_newly_erased(list(upserted), started)

    async def _undo_for_the_newly_erased(self, upserted: list[str],
                                         started: list[CourseStarted]) -> None:
        """Someone erased while this batch was being decided (after its erasures were caught
        up) may have had their details or a course written by it after the erasure's own
        tombstone and reading of `courses`. So, once this batch's writes are acknowledged,
        the erasures are caught up again: whoever is erased now has their details tombstoned
        again and their new courses cancelled. An erasure this does not see was written after
        those writes, and so were the erase command's reading of courses and the tombstone
        this service writes when it reads the erasure."""
        if not upserted and not started:
            return
        await self.erased.catch_up()
        now = self.clock.now()
        gone, cancelled = taken_back(upserted, started, self._is_erased, now)
        await self._tombstone(gone)
        await self.producer.publish_all([(self.topics.courses, c) for c in cancelled])
        if gone or cancelled:
            log.warning("erased_during_batch", people=len(gone), courses_cancelled=len(cancelled))

    async def on_erasures(self, records: Sequence[Any]) -> None:
        """An erasure (written on `erasures` by `people erase`) tombstones the person on
        `people`: this service is the only writer there, so nobody else, the operator
        included, can redirect a person's messages by writing a record of theirs. A
        `person.erased` goes first, so live views drop the person at once; the tombstone
        then lets compaction remove the details. Each erasure is read once by the group;
        a repeat (after a crash) only tombstones again."""
        erased: list[str] = []
        for record in records:
            if record.value is None:
                continue
            try:
                event = decode_event(record.value, (PersonErased,))
            except EventDecodeError:
                log.warning("erasure_unreadable", offset=record.offset)
                continue
            assert isinstance(event, PersonErased)
            erased.append(event.person_id)
        await self._tombstone(erased)
        if erased:
            log.info("people_erased", count=len(erased))

    async def _tombstone(self, person_ids: Sequence[str]) -> None:
        now = self.clock.now()
        for person_id in person_ids:
            await self.producer.publish(self.topics.people,
                                        PersonErased(occurred_at=now, person_id=person_id))
            await self.producer.send(self.topics.people, None, person_id)

    async def _decide(self, record: Any, decided: dict[str, tuple[IntakeRecord, int]],
                      people: Known) -> tuple[str | None, IntakeDecision] | None:
        """A referral decided against what the batch so far left (or a choice of reminders
        written onto the person's record); None when it went to the DLQ."""
        now = self.clock.now()
        # Raw intake from any producer: the key is not checked (a referral is not yet a
        # course, and its course id follows from the referral id wherever it lands).
        event = await decode_or_dead_letter(self.producer, record, self.topics.dlq("referrals"),
                                            events_on("referrals"), now, keyed=False)
        if event is None:
            return None
        if isinstance(event, RemindersChosen):
            return self._choice(event, people, now)
        assert isinstance(event, ReferralSubmitted | ReferralWithdrawn)
        if isinstance(event, ReferralSubmitted):
            if names_erased(event, self._is_erased, self.id_key):
                # Before the staff check, whose dead letter would keep the erased person's details.
                return event.referral_id, refuse_as_erased(event, now)
            checked = await self._staff_checked(event, record)
            if checked is None:
                return None
            event = checked
        known = decided[event.referral_id][0] if event.referral_id in decided \
            else self.intake.get(event.referral_id)
        try:
            with telemetry.stage("rules"):
                return event.referral_id, decide_intake(known, event, now, people, self.id_key,
                                                        self._is_erased, self._from_directory)
        except Exception as exc:
            # A bug in the intake rules must not hold up the partition: the referral waits
            # in the DLQ, to be replayed once fixed. (Consent statements are not handled
            # this way: a statement that cannot be applied is retried, never skipped.)
            log.exception("intake_failed", referral_id=event.referral_id)
            await self.producer.dead_letter(
                self.topics.dlq("referrals"), record.value, record.key,
                f"intake failed: {type(exc).__name__}: {exc}",
                (record.topic, record.partition, record.offset))
            return None

    def _choice(self, event: RemindersChosen, people: Known,
                now: datetime) -> tuple[None, IntakeDecision] | None:
        if self._is_erased(event.person_id):
            # Dropped, not dead-lettered: a dead letter would keep their name and address.
            log.warning("reminders_refused", reason="names an erased person")
            return None
        return None, self._reminders_chosen(event, people, now)

    def _reminders_chosen(self, event: RemindersChosen, people: Known,
                          now: datetime) -> IntakeDecision:
        """The choice written onto the record on `people`, or onto the directory's record of
        a member of staff no referral has named yet; for anyone else it is dropped."""
        known = people(event.person_id)
        if known is None and self.staff is not None:
            member = self.staff.member(event.person_id)
            known = member.as_person() if member is not None else None
        upsert = choose_reminders(event, known, now)
        if upsert is None:
            return IntakeDecision([], outcome="reminders_chosen_by_nobody_on_record")
        return IntakeDecision([upsert], outcome=f"reminders_chosen_{event.reminders}")

    def _from_directory(self, person_id: str) -> bool:
        """Whose details in a checked referral are the staff directory's, not the referral's."""
        return self.staff is not None and self.staff.member(person_id) is not None

    def _is_erased(self, person_id: str) -> bool:
        return self.erased.get(person_id) is not None

    async def _staff_checked(self, referral: ReferralSubmitted,
                             record: Any) -> ReferralSubmitted | None:
        """The referral with its staff as the directory has them; None when it names someone
        who is not on the team (it went to the DLQ with the reason)."""
        if self.staff is None:
            return referral
        resolved = resolve_staff(referral, self.staff)
        if isinstance(resolved, str):
            await self.producer.dead_letter(
                self.topics.dlq("referrals"), record.value, record.key, resolved,
                (record.topic, record.partition, record.offset))
            log.warning("referral_refused", referral_id=referral.referral_id, reason=resolved)
            return None
        return resolved

    async def _publish_people_first(self, outputs: list[Record]) -> None:
        """Requests and course events name people by id, and the notifier looks the ids up in
        its view of `people`. So people are acknowledged first, then courses, then requests:
        sent together, a fast notifier could read a request (or a reminder the scheduler made
        from a course event) before the person it names, and suppress it as unknown."""
        people, notifications = self.topics.people, self.topics.notifications_requested
        for wave in ([o for o in outputs if o[0] == people],
                     [o for o in outputs if o[0] not in (people, notifications)],
                     [o for o in outputs if o[0] == notifications]):
            if wave:
                await self.producer.send_records(wave)

    async def on_course_or_session(self, record: Any) -> None:
        await self.on_courses_and_sessions([record])

    async def on_courses_and_sessions(self, records: Sequence[Any]) -> None:
        await self.consents.wait_ready()
        # The retention sweep deletes from the same table: never in the middle of a batch.
        async with self.consent_lock:
            await self._consent_batch(records)

    async def _consent_batch(self, records: Sequence[Any]) -> None:
        recorded: dict[str, tuple[ConsentRecorded, int]] = {}
        for record in records:
            telemetry.handling(record)
            event = await self._course_event(record)
            if event is None or event.course_id is None:
                continue
            known = recorded[event.course_id][0] if event.course_id in recorded \
                else self.consents.get(event.course_id)
            consent = await self._updated(record, event, known)
            if consent is not None:
                # The consents topic is itself this table's changelog: the record goes to the
                # partition of the input it came from, where the course's next event lands too.
                recorded[event.course_id] = (consent, record.partition)
        # The consents topic is also what the scheduler and the notifier read: each record takes
        # the trace of the course's event that changed it.
        with telemetry.batch_stage("state write"):
            await self.consents.put_many([(k, v, p) for k, (v, p) in recorded.items()])

    async def _course_event(self, record: Any) -> Event | None:
        try:
            event = decode_event(record.value, events_on(self.topics.base(record.topic)))
        except EventDecodeError:
            # The scheduler reads every course and session event too and dead-letters what
            # it cannot decode; a second DLQ entry from here would be replayed twice.
            return None
        home = await home_partition(self.producer, record)
        if event.course_id is None or refusal(event, record.key, self.clock.now(),
                                              partition=(record.partition, home)):
            # Mis-keyed, mis-partitioned or future-dated: the scheduler dead-letters it. Applied
            # here, a mis-keyed statement would start a second consent record in another
            # partition.
            return None
        return event

    async def _updated(self, record: Any, event: Event,
                       known: ConsentRecorded | None) -> ConsentRecorded | None:
        """The course's record after `event`: its consent, who holds which role in it (the
        notifier reads them here, not from `courses` and `sessions`), and when it closed; None
        when the event changes none of them."""
        if await self._assignment_refused(record, event):
            return None
        consent = await self._apply_consent(record, event, known)
        current = consent or known
        members = course_members.fold(current.members if current else None, event)
        if members is not None:
            current = self._marked(event, current, members=members)
        if isinstance(event, CourseEnded | CourseCancelled) and current is not None \
                and current.closed_at is None:
            # From this moment the record's retention counts.
            current = self._marked(event, current, closed_at=self.clock.now())
        return None if current is known else current

    async def _assignment_refused(self, record: Any, event: Event) -> bool:
        """A psychologist the staff directory does not know is not taken into the course's
        members (the course keeps the one it had): the assignment goes to the DLQ with the
        reason, to be replayed once the directory names them. Without a directory
        (development), any assignment is taken."""
        if self.staff is None or not isinstance(event, PsychologistAssigned):
            return False
        reason = assignment_refusal(event, self.staff)
        if reason is None:
            return False
        await self.producer.dead_letter(self.topics.dlq(self.topics.base(record.topic)),
                                        record.value, record.key, reason,
                                        (record.topic, record.partition, record.offset))
        log.warning("assignment_refused", course_id=event.course_id, reason=reason)
        return True

    @staticmethod
    def _marked(event: Event, known: ConsentRecorded | None,
                **update: Any) -> ConsentRecorded:
        """The record with `update` made by `event` (a new record, with no consent yet, for a
        course whose first event is not its start)."""
        assert event.course_id is not None
        event_id = str(event.event_id)
        record = known or ConsentRecorded(
            occurred_at=event.occurred_at, course_id=event.course_id,
            correlation_id=event.correlation_id, state=ConsentState())
        applied = record.applied if event_id in record.applied else \
            (*record.applied, event_id)[-100:]
        return record.model_copy(update={
            **update, "event_id": stable_id(event.course_id, "consent", event_id),
            "applied": applied})

    async def _apply_consent(self, record: Any, event: Event,
                             known: ConsentRecorded | None) -> ConsentRecorded | None:
        """The course's consent record after `event`; None when it changes nothing."""
        assert event.course_id is not None
        event_id = str(event.event_id)
        if known is not None and event_id in known.applied:
            return None  # each event takes effect once
        with telemetry.stage("rules"):
            updated = consent_rules.update(known.state if known else None, event)
        if updated is None:
            return None
        if isinstance(updated, str):
            await self.producer.dead_letter(self.topics.dlq(self.topics.base(record.topic)),
                                            record.value, record.key, updated,
                                            (record.topic, record.partition, record.offset))
            log.warning("consent_refused", course_id=event.course_id, reason=updated)
            return None
        log.info("consent_recorded", course_id=event.course_id,
                 leader_contact=updated.allows_leader_contact,
                 three_party_meeting=updated.allows_three_party_meeting)
        return ConsentRecorded(
            event_id=stable_id(event.course_id, "consent", event_id),
            occurred_at=consent_rules.as_of(updated) or event.occurred_at,
            course_id=event.course_id, correlation_id=event.correlation_id, state=updated,
            applied=(*(known.applied if known else ()), event_id)[-100:],
            closed_at=known.closed_at if known else None,
            members=known.members if known else None)

    async def back_fill_members(self, history: CourseHistory) -> int:
        """Each record that shows no start gets its members folded again from the course's own
        events (`courses` and `sessions` keep them for as long as courses last): records written
        before the members were kept on them have none, and an assignment read since gives a
        psychologist and no start. Once per rebuild of the table. The history is read without
        the consent lock, so a withdrawal is not held up by the scan; a record the consent group
        changed meanwhile is left for the next round, and the others are written under the
        lock. Returns how many records changed."""
        await self.consents.wait_ready()
        generation = self.consents.generation
        if generation == self.members_back_filled:
            return 0
        async with self.consent_lock:
            seen = {key: (partition, record) for key, record in self.consents.items()
                    if _without_start(record)
                    and (partition := self.consents.partition_of(key)) is not None}
        wanted = {key: partition for key, (partition, _) in seen.items()}
        found = await self._fold_history(history, sorted(set(wanted.values())), wanted) \
            if wanted else {}
        async with self.consent_lock:
            unchanged = {key: members for key, members in found.items()
                         if self.consents.get(key) == seen[key][1]}
            changed = [(key, record, wanted[key]) for key, members in unchanged.items()
                       if (record := self._with_members(key, members)) is not None]
            for partition in sorted({p for _, _, p in changed}):
                async with self.consents.holding(partition):
                    if self.consents.generation != generation:
                        return 0  # rebuilt meanwhile: looked at again at the next round
                    await self.consents.put_many([c for c in changed if c[2] == partition])
            if len(unchanged) == len(found) and self.consents.generation == generation:
                self.members_back_filled = generation
        if changed:
            log.info("members_back_filled", courses=len(changed), looked_at=len(wanted))
        return len(changed)

    def _with_members(self, course_id: str, members: CourseMembers) -> ConsentRecorded | None:
        """The course's record with `members`; None when it has them already."""
        record = self.consents.get(course_id)
        if record is None or record.members == members:
            return None
        return record.model_copy(update={"members": members, "event_id": stable_id(
            course_id, "consent", "members", members.model_dump_json())})

    async def _fold_history(self, history: CourseHistory, partitions: list[int],
                            wanted: dict[str, int]) -> dict[str, CourseMembers]:
        """The members of each wanted course, from its events as the consent group applies
        them: mis-keyed, mis-partitioned or future-dated ones, and assignments of a psychologist
        the staff directory does not know, are passed over (the group dead-lettered them)."""
        found: dict[str, CourseMembers] = {}
        async for records in history(partitions):
            for record in records:
                event = await self._course_event(record)
                if event is None or event.course_id not in wanted or (
                        self.staff is not None and isinstance(event, PsychologistAssigned)
                        and assignment_refusal(event, self.staff) is not None):
                    continue
                current = found.get(event.course_id)
                found[event.course_id] = course_members.fold(current, event) or \
                    current or CourseMembers()
        return found


def _without_start(record: ConsentRecorded) -> bool:
    """A record that may lack members its course's events name: none at all, or no start (a
    closed course that never started needs none)."""
    members = record.members
    return members is None or (not members.started and record.closed_at is None)
