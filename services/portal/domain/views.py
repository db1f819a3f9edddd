"""What the portal knows, rebuilt from the topics: referrals, courses, people, consent, contact
points, and each course's timeline. Pure: records go in through `apply`, nothing here does I/O.

Every portal instance reads every partition from the beginning, so any instance can answer any
request, and `consumed` tells how far it has read (for read-your-own-write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from shared.events import (
    ConsentGiven,
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    ConsentWithdrawn,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Event,
    FollowUpRequested,
    LeaderContactLogged,
    MeetingCancelled,
    MeetingScheduled,
    Person,
    PersonErased,
    PersonUpserted,
    PlanSet,
    PsychologistAssigned,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReminderPreference,
    RemindersChosen,
    SessionCancelled,
    SessionHeld,
    SessionScheduled,
)
from shared.events.contact_points import _ContactPointChange
from shared.events.notifications import _Outcome

CourseStatus = Literal["open", "ended", "cancelled"]
ReferralStatus = Literal["received", "course_started", "course_ended", "withdrawn"]


@dataclass
class ReferralRow:
    referral_id: str
    leader_id: str | None
    employee_name: str
    workplace: str
    submitted_at: datetime
    course_id: str | None = None
    withdrawn: bool = False
    # What the intake derives the employee's id from (e-mail, else phone, else name), so the
    # row is known as theirs at their erasure also when no course was opened from it.
    employee_handle: str = ""

    def forget_employee(self) -> None:
        self.employee_name = self.workplace = self.employee_handle = ""


def handle_of(email: str | None, phone: str | None, name: str) -> str:
    return (email or phone or name).lower()


@dataclass
class CourseRow:
    course_id: str
    referral_id: str
    employee_id: str
    leader_id: str
    psychologist_id: str | None
    team_lead_id: str | None
    start_date: date
    status: CourseStatus = "open"
    end_date: date | None = None
    # When the course opened (its referral was taken in) and, once cancelled, why: what the
    # leader's list shows of a referral whose raw record has left `referrals`.
    started_at: datetime | None = None
    cancel_reason: str | None = None
    # When the psychologist shown was assigned: a reassignment is taken only if it is newer,
    # whether read from `sessions` or from the course's `consents` record, in any order.
    assigned_at: datetime | None = None


@dataclass(frozen=True)
class PointRow:
    course_id: str
    point_id: str
    kind: str
    state: str
    due_from: date
    due_by: date


@dataclass(frozen=True)
class MeetingRow:
    """A meeting the psychologist put in the calendars, as it stands now."""

    meeting_id: str
    kind: str
    starts_at: datetime
    minutes: int
    cancelled: bool = False


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a course's history: what happened and when, never what was said. A person
    is named by id (the page looks the name up when it is drawn), so an erased person's name is
    in no line of it."""

    at: datetime
    what: str
    detail: str = ""


@dataclass
class PortalView:
    # Raw referrals as read from `referrals`, which keeps them only within the erasure bound.
    referrals: dict[str, ReferralRow] = field(default_factory=dict)
    courses: dict[str, CourseRow] = field(default_factory=dict)
    course_of_referral: dict[str, str] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    # Ids seen erased (ids only): an erased leader's list is not rebuilt from `courses`.
    erased: set[str] = field(default_factory=set)
    # Each person's stated reminder preference and when it was stated, from their own choice
    # (on `referrals`, seen before the referral service writes it on `people`) or their record.
    reminders: dict[str, tuple[datetime, ReminderPreference]] = field(default_factory=dict)
    consents: dict[str, ConsentState] = field(default_factory=dict)
    points: dict[str, dict[str, PointRow]] = field(default_factory=dict)
    timelines: dict[str, list[TimelineEntry]] = field(default_factory=dict)
    meetings: dict[str, dict[str, MeetingRow]] = field(default_factory=dict)
    # Each course's newest assignment (when, to whom), also before its start is read.
    assigned: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    # The psychologists a course may be given (the staff directory's; None without one, in
    # development): an assignment to anyone else is dead-lettered by the referral service, and
    # here it neither opens the course to that person nor shows them as its psychologist.
    assignable: frozenset[str] | None = None
    # Event ids seen on the topics the portal writes to: a repeated form never publishes twice.
    seen_event_ids: set[UUID] = field(default_factory=set)
    # (topic, partition) -> the next offset to read: read-your-own-write waits on this.
    consumed: dict[tuple[str, int], int] = field(default_factory=dict)

    def advance(self, topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        self.consumed[key] = max(self.consumed.get(key, 0), offset + 1)

    def has_consumed(self, topic: str, partition: int, offset: int) -> bool:
        return self.consumed.get((topic, partition), 0) > offset

    def erase(self, person_id: str) -> None:
        """An erased person's details leave the view: their record, the referrals they made as
        leader, and their name and workplace on the referrals that named them as employee."""
        person = self.people.pop(person_id, None)
        self.reminders.pop(person_id, None)
        self.erased.add(person_id)
        handle = handle_of(person.email, person.phone, person.name) if person else None
        for referral_id, row in list(self.referrals.items()):
            course = self.courses.get(row.course_id or "")
            if row.leader_id == person_id:
                del self.referrals[referral_id]
            elif (course is not None and course.employee_id == person_id) or (
                    handle is not None and row.employee_handle == handle):
                row.forget_employee()

    def _stated(self, person_id: str, at: datetime, value: ReminderPreference | None) -> None:
        known = self.reminders.get(person_id)
        if value is not None and (known is None or at >= known[0]):
            self.reminders[person_id] = (at, value)

    def reminders_of(self, person_id: str) -> ReminderPreference:
        """How a member of staff gets reminders: what they last stated, else the digest."""
        stated = self.reminders.get(person_id)
        return stated[1] if stated else "digest"

    def apply(self, event: Event) -> None:
        self.seen_event_ids.add(event.event_id)
        if isinstance(event, PersonUpserted):
            self.people[event.person.person_id] = event.person
            self._stated(event.person.person_id, event.occurred_at, event.person.reminders)
        elif isinstance(event, RemindersChosen):
            self._stated(event.person_id, event.occurred_at, event.reminders)
        elif isinstance(event, PersonErased):
            self.erase(event.person_id)
        elif isinstance(event, ReferralSubmitted):
            self._referral(event)
        elif isinstance(event, ReferralWithdrawn):
            if row := self.referrals.get(event.referral_id):
                row.withdrawn = True
        elif isinstance(event, ConsentRecorded) and event.course_id:
            self.consents[event.course_id] = merge_consent(
                self.consents.get(event.course_id, ConsentState()), event.state)
            members = event.members
            if members is not None and members.psychologist_id and members.assigned_at:
                self._assign(event.course_id, members.psychologist_id, members.assigned_at)
        elif isinstance(event, _ContactPointChange) and event.course_id:
            self._point(event)
        elif isinstance(event, MeetingScheduled | MeetingCancelled) and event.course_id:
            self._meeting(event, event.course_id)
        elif event.course_id:
            self._course_event(event, event.course_id)

    def _referral(self, event: ReferralSubmitted) -> None:
        if event.referral_id in self.referrals:
            return
        # Read in any order with `courses`: its course may be known already.
        employee = event.employee
        self.referrals[event.referral_id] = ReferralRow(
            event.referral_id, event.leader.person_id, employee.name, event.workplace,
            event.occurred_at, self.course_of_referral.get(event.referral_id),
            employee_handle=handle_of(employee.email, employee.phone, employee.name))

    def _course_started(self, event: CourseStarted, course_id: str) -> None:
        self.courses[course_id] = CourseRow(
            course_id, event.referral_id, event.employee_id, event.leader_id,
            event.psychologist_id, event.team_lead_id, event.start_date,
            started_at=event.occurred_at)
        self.course_of_referral[event.referral_id] = course_id
        if assigned := self.assigned.get(course_id):
            course = self.courses[course_id]
            course.assigned_at, course.psychologist_id = assigned
        if referral := self.referrals.get(event.referral_id):
            referral.course_id = course_id

    def _point(self, event: _ContactPointChange) -> None:
        course_id = event.course_id or ""
        state = str(getattr(event, "type", "")).removeprefix("contact_point.")
        self.points.setdefault(course_id, {})[event.contact_point_id] = PointRow(
            course_id, event.contact_point_id, event.kind, state, event.due_from, event.due_by)
        self._log(course_id, event.occurred_at, f"point.{state}", event.kind)

    def _course_event(self, event: Event, course_id: str) -> None:
        course = self.courses.get(course_id)
        if isinstance(event, CourseStarted):
            if course is None:
                self._course_started(event, course_id)
            self._log(course_id, event.occurred_at, "course.started")
        elif isinstance(event, CourseEnded):
            if course:
                course.status, course.end_date = "ended", event.end_date
            self._log(course_id, event.occurred_at, "course.ended", event.end_date.isoformat())
        elif isinstance(event, CourseCancelled):
            if course:
                course.status, course.cancel_reason = "cancelled", event.reason
            self._log(course_id, event.occurred_at, "course.cancelled")
        elif isinstance(event, PsychologistAssigned):
            if self.assignable is not None and event.psychologist_id not in self.assignable:
                return
            self._assign(course_id, event.psychologist_id, event.occurred_at)
            self._log(course_id, event.occurred_at, "psychologist.assigned", event.psychologist_id)
        elif isinstance(event, LeaderContactLogged):
            self._log(course_id, event.occurred_at, "leader_contact.logged", event.contact_kind)
        elif isinstance(event, ConsentGiven | ConsentWithdrawn):
            self.consents[course_id] = merge_consent(
                self.consents.get(course_id, ConsentState()), statement_state(event))
            self._log(course_id, event.occurred_at, event.type, f"{event.party}:{event.scope}")
        elif isinstance(event, FollowUpRequested):
            self._log(course_id, event.occurred_at, event.type,
                      event.due_date.isoformat() if event.due_date else "")
        elif isinstance(event, PlanSet):
            self._log(course_id, event.occurred_at, event.type,
                      f"{event.plan_kind}:{event.review_date.isoformat()}")
        elif isinstance(event, SessionScheduled | SessionHeld):
            self._log(course_id, event.occurred_at, event.type, event.at.isoformat())
        elif isinstance(event, SessionCancelled):
            self._log(course_id, event.occurred_at, event.type)
        elif isinstance(event, _Outcome):
            self._log(course_id, event.occurred_at, str(getattr(event, "type", "")),
                      f"{event.kind}:{event.recipient_role}")

    def _assign(self, course_id: str, psychologist_id: str, at: datetime) -> None:
        """The course's psychologist, as the newest assignment says: the referral service's
        record of it (which takes only the staff directory's psychologists, as the directory
        was then) or a reassignment read from `sessions` first."""
        known = self.assigned.get(course_id)
        if known is None or at >= known[0]:
            self.assigned[course_id] = (at, psychologist_id)
        if course := self.courses.get(course_id):
            course.assigned_at, course.psychologist_id = self.assigned[course_id]

    def _meeting(self, event: MeetingScheduled | MeetingCancelled, course_id: str) -> None:
        """As the scheduler keeps it: a move keeps the meeting's kind, a cancellation is final."""
        meetings = self.meetings.setdefault(course_id, {})
        current = meetings.get(event.meeting_id)
        if current is not None and current.cancelled:
            return
        if isinstance(event, MeetingScheduled):
            meetings[event.meeting_id] = MeetingRow(
                event.meeting_id, current.kind if current else event.meeting_kind,
                event.starts_at, event.duration_minutes)
        elif current is not None:
            meetings[event.meeting_id] = MeetingRow(current.meeting_id, current.kind,
                                                    current.starts_at, current.minutes, True)
        else:
            return
        self._log(course_id, event.occurred_at, event.type, meetings[event.meeting_id].kind)

    def upcoming_meetings(self, course_id: str) -> list[MeetingRow]:
        return sorted((m for m in self.meetings.get(course_id, {}).values() if not m.cancelled),
                      key=lambda m: m.starts_at)

    def _log(self, course_id: str, at: datetime, what: str, detail: str = "") -> None:
        self.timelines.setdefault(course_id, []).append(TimelineEntry(at, what, detail))

    def name_of(self, person_id: str | None) -> str:
        person = self.people.get(person_id or "")
        return person.name if person else (person_id or "")

    # Queries --------------------------------------------------------------------------------

    def referrals_of(self, leader_id: str) -> list[tuple[ReferralRow, ReferralStatus]]:
        """A leader's referrals: those still on `referrals`, and every one that opened a
        course (from `courses`, kept for good, and the employee's name from `people`), so the
        list does not shrink to the last hours when the portal restarts."""
        if leader_id in self.erased:
            return []
        rows = [r for r in self.referrals.values() if r.leader_id == leader_id]
        rows += [row for c in self.courses.values()
                 if c.leader_id == leader_id and c.referral_id not in self.referrals
                 and (row := self.referral_row(c.referral_id)) is not None]
        return [(r, self.referral_status(r))
                for r in sorted(rows, key=lambda r: r.submitted_at, reverse=True)]

    def referral_row(self, referral_id: str) -> ReferralRow | None:
        """The referral as read from `referrals`, else as its course tells it."""
        if row := self.referrals.get(referral_id):
            return row
        course = self.courses.get(self.course_of_referral.get(referral_id, ""))
        if course is None or course.started_at is None:
            return None
        employee = self.people.get(course.employee_id)
        return ReferralRow(referral_id, course.leader_id, employee.name if employee else "",
                           "", course.started_at, course.course_id,
                           withdrawn=course.cancel_reason == "referral_withdrawn")

    def referral_status(self, row: ReferralRow) -> ReferralStatus:
        if row.withdrawn:
            return "withdrawn"
        course = self.courses.get(row.course_id or "")
        if course is None:
            return "received"
        if course.cancel_reason == "referral_withdrawn":
            return "withdrawn"
        return "course_started" if course.status == "open" else "course_ended"

    def courses_of_employee(self, employee_id: str) -> list[CourseRow]:
        return [c for c in self.courses.values()
                if c.employee_id == employee_id and c.status == "open"]

    def courses_of_psychologist(self, psychologist_id: str | None) -> list[CourseRow]:
        """Every course for a team lead (None); a psychologist's own courses otherwise."""
        return sorted((c for c in self.courses.values()
                       if psychologist_id is None or c.psychologist_id == psychologist_id),
                      key=lambda c: c.start_date)

    def open_points(self, courses: list[CourseRow]) -> list[PointRow]:
        rows = [p for c in courses for p in self.points.get(c.course_id, {}).values()
                if p.state not in ("completed", "cancelled")]
        return sorted(rows, key=lambda p: (p.due_by, p.course_id))

    def timeline(self, course_id: str) -> list[TimelineEntry]:
        return sorted(self.timelines.get(course_id, []), key=lambda e: e.at)


def _newer(a: ConsentStatement | None, b: ConsentStatement | None) -> ConsentStatement | None:
    if a is None or b is None:
        return a or b
    return b if b.as_of >= a.as_of else a


def merge_consent(current: ConsentState, update: ConsentState) -> ConsentState:
    """Statement by statement, the later one wins: the portal shows a statement of its own
    at once and the `consents` record (which comes after) never takes it back."""
    parties = set(current.three_party) | set(update.three_party)
    three_party = {p: s for p in parties
                   if (s := _newer(current.three_party.get(p), update.three_party.get(p)))}
    return ConsentState(leader_contact=_newer(current.leader_contact, update.leader_contact),
                        three_party=three_party)


def statement_state(event: ConsentGiven | ConsentWithdrawn) -> ConsentState:
    """One session event as a consent state of one statement. Only the employee's word
    counts for leader contact."""
    statement = ConsentStatement(agreed=isinstance(event, ConsentGiven), as_of=event.occurred_at)
    if event.scope == "leader_contact":
        return ConsentState(leader_contact=statement if event.party == "employee" else None)
    return ConsentState(three_party={event.party: statement})


@dataclass(frozen=True)
class Worklist:
    due_today: list[PointRow]
    overdue: list[PointRow]
    waiting_for_consent: list[PointRow]
    upcoming: list[PointRow]


def worklist(points: list[PointRow], today: date) -> Worklist:
    """A psychologist's day: what must happen today, what is late, what waits for the
    employee's consent, and what comes next."""
    blocked = [p for p in points if p.state == "blocked"]
    active = [p for p in points if p.state != "blocked"]
    return Worklist(
        due_today=[p for p in active if p.due_from <= today <= p.due_by and p.state != "overdue"],
        overdue=[p for p in active if p.state == "overdue" or p.due_by < today],
        waiting_for_consent=blocked,
        upcoming=[p for p in active if p.due_from > today],
    )
