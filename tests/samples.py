"""One valid event of every type, for round trips and fuzzing seeds."""

from __future__ import annotations

from datetime import date, datetime, timezone

from shared.events import (
    ConsentGiven,
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    ConsentWithdrawn,
    ContactPointBlocked,
    ContactPointCancelled,
    ContactPointCompleted,
    ContactPointDue,
    ContactPointOverdue,
    ContactPointScheduled,
    CourseCancelled,
    CourseEnded,
    CourseStarted,
    Event,
    FollowUpRequested,
    LeaderContactLogged,
    MeetingCancelled,
    MeetingScheduled,
    NotificationDeferred,
    NotificationFacts,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    NotificationSuppressed,
    Person,
    PersonErased,
    PersonUpserted,
    PlanSet,
    PsychologistAssigned,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReferredPerson,
    RemindersChosen,
    SessionCancelled,
    SessionHeld,
    SessionScheduled,
)

AT = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def referral(referral_id: str = "r-1", consent: bool = True, **over: object) -> ReferralSubmitted:
    fields: dict[str, object] = dict(
        occurred_at=AT,
        referral_id=referral_id,
        employee=ReferredPerson(name="Emma Employee", email="emma@example.org", phone="+4520304050"),
        leader=ReferredPerson(name="Lars Leader", email="lars@example.org", phone="+4521314151"),
        # Staff get the morning digest unless they say otherwise; the tests built on this
        # referral follow the single reminders.
        psychologist=ReferredPerson(person_id="psy-1", name="Pia Psykolog", email="pia@tidlig.dk",
                                    reminders="each"),
        workplace="Kommunen",
        reason_category="stress_related",
        sick_leave="at_risk",
        employee_consents_to_leader_contact=consent,
    )
    fields.update(over)
    return ReferralSubmitted(**fields)


def one_of_each(course_id: str = "c-1") -> list[Event]:
    c = {"occurred_at": AT, "course_id": course_id}
    cp = {**c, "contact_point_id": f"{course_id}:start_call", "kind": "start_call",
          "due_from": date(2026, 11, 26), "due_by": date(2026, 11, 30)}
    out = {**c, "notification_id": "n-1", "kind": "contact_reminder",
           "recipient_role": "psychologist"}
    state = ConsentState(leader_contact=ConsentStatement(agreed=True, as_of=AT))
    return [
        referral(),
        ReferralWithdrawn(occurred_at=AT, referral_id="r-1"),
        CourseStarted(**c, referral_id="r-1", employee_id="e-1", leader_id="l-1",
                      start_date=date(2026, 11, 26)),
        CourseCancelled(**c, reason="referral_withdrawn"),
        CourseEnded(**c, end_date=date(2027, 1, 15)),
        SessionScheduled(**c, session_id="s-1", at=AT),
        SessionHeld(**c, session_id="s-1", at=AT),
        SessionCancelled(**c, session_id="s-2"),
        LeaderContactLogged(**c, contact_kind="start_call", at=AT),
        FollowUpRequested(**c, follow_up_id="f-1", due_date=date(2026, 12, 10)),
        PsychologistAssigned(**c, psychologist_id="psy-1"),
        MeetingScheduled(**c, meeting_id="m-1", meeting_kind="three_party_meeting",
                         starts_at=datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)),
        MeetingCancelled(**c, meeting_id="m-1"),
        ConsentGiven(**c, party="employee", scope="leader_contact"),
        ConsentWithdrawn(**c, party="employee", scope="leader_contact"),
        ConsentRecorded(**c, state=state),
        PlanSet(**c, plan_id="p-1", plan_kind="return_to_work", review_date=date(2027, 1, 4)),
        PersonUpserted(occurred_at=AT, person=Person(person_id="e-1", name="Emma",
                                                     email="emma@example.org")),
        PersonErased(occurred_at=AT, person_id="e-1"),
        RemindersChosen(occurred_at=AT, person_id="psy-1", reminders="each", name="Pia",
                        email="pia@tidlig.dk"),
        ContactPointScheduled(**cp), ContactPointDue(**cp), ContactPointOverdue(**cp),
        ContactPointCompleted(**cp), ContactPointCancelled(**cp), ContactPointBlocked(**cp),
        NotificationRequested(**c, notification_id="n-1", kind="contact_reminder",
                              recipient_id="psy-1", recipient_role="psychologist",
                              requires_consent="none",
                              facts=NotificationFacts(contact_kind="start_call",
                                                      due_date=date(2026, 11, 30))),
        NotificationSent(**out, channel="email", provider_message_id="m-1"),
        NotificationSuppressed(**out, reason="no_consent"),
        NotificationFailed(**out, reason="550 mailbox unavailable"),
        NotificationDeferred(**out, until=AT, reason="quiet_hours"),
    ]
