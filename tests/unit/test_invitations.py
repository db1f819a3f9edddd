"""Calendar invitations: who gets one, under which consent, and what a calendar receives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from typing import Literal

from icalendar import Calendar

from services.contact_scheduler.domain.plan import CoursePlan
from services.contact_scheduler.domain.policy import ContactPolicy
from services.contact_scheduler.domain.rules import ContactPlanner
from services.notifier.adapters.smtp import build_message
from services.notifier.domain.delivery import Send, Suppress, plan_delivery
from services.notifier.domain.ics import Address
from services.notifier.domain.membership import CourseMembers
from services.notifier.domain.render import Rendered, build_context, render, with_invitation
from services.notifier.ports import MailParts
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.events import (
    ConsentRecorded,
    ConsentState,
    ConsentStatement,
    CourseCancelled,
    CourseStarted,
    Event,
    MeetingCancelled,
    MeetingScheduled,
    NotificationRequested,
    Person,
)

RULES = ContactPlanner(ContactPolicy(), WorkingDayCalendar())
AT = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
MEETING_AT = datetime(2026, 12, 3, 10, 0, tzinfo=COPENHAGEN)
COURSE = "c-abcdef12"
LEADER = Person(person_id="lead", name="Lars Leder", email="lars@example.org")
EMPLOYEE = Person(person_id="emp", name="Emma Ansat", email="emma@example.org")
PSY = Person(person_id="psy", name="Pia Psykolog", email="pia@tidlig.dk")
PEOPLE = {p.person_id: p for p in (LEADER, EMPLOYEE, PSY)}
MEMBERS = CourseMembers(started=True, employee_id="emp", leader_id="lead", psychologist_id="psy")
SERVICE = Address("lederkontakt@tidlig-indsats.dk", "Tidlig Indsats")
YES = ConsentStatement(agreed=True, as_of=AT)
LEADER_CONTACT_ONLY = ConsentState(leader_contact=YES)
ALL_THREE = ConsentState(leader_contact=YES, three_party={
    "employee": YES, "leader": YES, "psychologist": YES})
MeetingKind = Literal["leader_call", "three_party_meeting"]


def open_plan() -> CoursePlan:
    start = CourseStarted(occurred_at=AT, course_id=COURSE, referral_id="r", employee_id="emp",
                          leader_id="lead", psychologist_id="psy", start_date=AT.date())
    return RULES.apply(CoursePlan(course_id=COURSE), start, AT).plan


def scheduled(kind: MeetingKind = "three_party_meeting", starts: datetime = MEETING_AT,
              minutes: int = 45) -> MeetingScheduled:
    return MeetingScheduled(occurred_at=AT, course_id=COURSE, meeting_id="m-1", meeting_kind=kind,
                            starts_at=starts, duration_minutes=minutes)


def cancelled() -> MeetingCancelled:
    return MeetingCancelled(occurred_at=AT, course_id=COURSE, meeting_id="m-1")


def apply(events: list[Event], plan: CoursePlan | None = None,
          ) -> tuple[CoursePlan, list[list[NotificationRequested]]]:
    """The plan after the events, and each event's notification requests."""
    plan = plan or open_plan()
    requests = []
    for event in events:
        step = RULES.apply(plan, event, AT)
        plan = step.plan
        requests.append([e for e in step.outputs if isinstance(e, NotificationRequested)])
    return plan, requests


def mail(request: NotificationRequested, language: Literal["da", "en"] = "da") -> Rendered:
    recipient = PEOPLE[request.recipient_id]
    rendered = render(request.kind, language, "email", build_context(request, recipient, PSY))
    return with_invitation(rendered, request, recipient, SERVICE)


def ics(request: NotificationRequested) -> Calendar:
    rendered = mail(request)
    assert rendered.calendar is not None
    return Calendar.from_ical(rendered.calendar)


def test_a_three_party_meeting_invites_all_three_and_a_call_the_leader_and_psychologist() -> None:
    _, [three] = apply([scheduled()])
    assert [(r.recipient_role, r.kind) for r in three] == [
        ("psychologist", "three_party_meeting_scheduled"),
        ("leader", "three_party_meeting_scheduled"),
        ("employee", "three_party_meeting_scheduled")]
    assert [r.requires_consent for r in three] == ["none", "three_party_meeting",
                                                    "three_party_meeting"]
    _, [call] = apply([scheduled("leader_call")])
    assert [(r.recipient_role, r.kind, r.requires_consent) for r in call] == [
        ("psychologist", "call_scheduled", "none"), ("leader", "call_scheduled", "leader_contact")]


def test_the_invitation_parses_round_trips_and_is_in_copenhagen_time() -> None:
    _, [[_, to_leader, _]] = apply([scheduled()])
    raw = mail(to_leader).calendar
    assert raw is not None
    calendar = Calendar.from_ical(raw)
    assert calendar.to_ical() == raw
    assert Calendar.from_ical(calendar.to_ical()).to_ical() == raw
    assert str(calendar["METHOD"]) == "REQUEST"
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Copenhagen"]
    [event] = calendar.events
    assert event.start == MEETING_AT and event.end == MEETING_AT + timedelta(minutes=45)
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Copenhagen"
    assert str(event["UID"]) == f"m-1.{COURSE}@lederkontakt.tidlig-indsats.dk"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["ORGANIZER"]) == "mailto:lederkontakt@tidlig-indsats.dk"
    assert str(event["ATTENDEE"]) == "mailto:lars@example.org"
    assert str(event["ATTENDEE"].params["CN"]) == "Lars Leder"
    assert str(event["CLASS"]) == "PRIVATE"


def test_the_calendar_says_the_kind_of_meeting_and_the_course_reference_only() -> None:
    _, [[to_psy, _]] = apply([scheduled("leader_call")])
    event = ics(to_psy).events[0]
    assert str(event["SUMMARY"]) == "Samtale med psykolog (forløb ABCDEF12)"
    assert str(event["DESCRIPTION"]) == str(event["SUMMARY"])
    assert "LOCATION" not in event
    english = mail(to_psy, "en")
    assert english.calendar is not None
    assert str(Calendar.from_ical(english.calendar).events[0]["SUMMARY"]) == (
        "Call with the psychologist (course ABCDEF12)")


def test_the_vtimezone_keeps_copenhagen_time_through_every_change_of_the_clocks_to_2035() -> None:
    _, [[_, to_leader, _]] = apply([scheduled()])
    [zone] = ics(to_leader).timezones
    assert "RRULE" in zone.subcomponents[0] and "RDATE" not in zone.subcomponents[0]
    # The definition as written, not the tz database under its name.
    written = zone.to_tz(lookup_tzid=False)
    moments = [datetime(year, 1, 1, 12, tzinfo=UTC) + timedelta(days=d)
               for year in range(2026, 2036) for d in range(365)]
    # Every hour around each change of the clocks.
    moments += [datetime(year, month, 20, tzinfo=UTC) + timedelta(hours=h)
                for year in range(2026, 2036) for month in (3, 10) for h in range(17 * 24)]
    for moment in moments:
        assert moment.astimezone(written).utcoffset() == moment.astimezone(COPENHAGEN).utcoffset()


def test_a_moved_meeting_keeps_its_uid_with_a_higher_sequence() -> None:
    later = MEETING_AT + timedelta(days=1)
    plan, [first, moved] = apply([scheduled(), scheduled(starts=later)])
    before, after = ics(first[1]).events[0], ics(moved[1]).events[0]
    assert after["UID"] == before["UID"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.start.date() == date(2026, 12, 4)
    assert mail(moved[1]).subject.startswith("Nyt tidspunkt: Trepartssamtale 04.12.2026")
    assert {r.notification_id for r in first}.isdisjoint({r.notification_id for r in moved})
    # The same time again is no change: nobody gets a second invitation.
    _, [same] = apply([scheduled(starts=later)], plan)
    assert same == []


def test_a_cancellation_is_method_cancel_with_the_same_uid_and_a_higher_sequence() -> None:
    _, [first, gone, again] = apply([scheduled(), cancelled(), cancelled()])
    calendar = ics(gone[1])
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.events
    assert event["UID"] == ics(first[1]).events[0]["UID"]
    assert int(event["SEQUENCE"]) > int(ics(first[1]).events[0]["SEQUENCE"])
    assert str(event["STATUS"]) == "CANCELLED"
    assert {r.kind for r in gone} == {"three_party_meeting_cancelled"}
    assert again == []


def test_a_withdrawn_referral_cancels_the_meetings_in_every_calendar() -> None:
    _, [_, gone] = apply([scheduled("leader_call"),
                          CourseCancelled(occurred_at=AT, course_id=COURSE)])
    assert {(r.recipient_role, r.kind) for r in gone} == {
        ("psychologist", "call_cancelled"), ("leader", "call_cancelled")}


def test_a_meeting_that_arrives_before_its_course_started_is_sent_when_it_starts() -> None:
    start = CourseStarted(occurred_at=AT, course_id=COURSE, referral_id="r", employee_id="emp",
                          leader_id="lead", psychologist_id="psy", start_date=AT.date())
    plan, [early, started] = apply([scheduled("leader_call"), start],
                                   CoursePlan(course_id=COURSE))
    assert early == []
    assert [(r.recipient_role, r.kind, r.facts.meeting_sequence) for r in started] == [
        ("psychologist", "call_scheduled", 0), ("leader", "call_scheduled", 0)]
    _, [gone] = apply([cancelled()], plan)
    assert {r.kind for r in gone} == {"call_cancelled"}


def _decision(request: NotificationRequested, consent: ConsentState | None) -> Suppress | Send:
    plan = plan_delivery(request, PEOPLE[request.recipient_id], consent, MEMBERS, AT)
    assert isinstance(plan, Suppress | Send)
    return plan


def test_no_consent_to_leader_contact_no_call_invitation_to_the_leader() -> None:
    _, [[to_psy, to_leader]] = apply([scheduled("leader_call")])
    assert _decision(to_leader, None) == Suppress("no_consent_to_leader_contact")
    assert _decision(to_leader, ConsentState(leader_contact=ConsentStatement(
        agreed=False, as_of=AT))) == Suppress("no_consent_to_leader_contact")
    assert isinstance(_decision(to_leader, LEADER_CONTACT_ONLY), Send)
    # The psychologist always gets their own invitation.
    assert isinstance(_decision(to_psy, None), Send)


def test_a_three_party_meeting_invitation_needs_all_three_agreements() -> None:
    _, [[to_psy, to_leader, to_employee]] = apply([scheduled()])
    for request in (to_leader, to_employee):
        assert _decision(request, LEADER_CONTACT_ONLY) == Suppress("no_three_party_agreement")
        assert isinstance(_decision(request, ALL_THREE), Send)
    assert isinstance(_decision(to_psy, None), Send)


def test_a_request_claiming_no_consent_is_needed_is_checked_against_the_catalogue() -> None:
    _, [[_, to_leader, _]] = apply([scheduled()])
    forged = to_leader.model_copy(update={"requires_consent": "none"})
    assert _decision(forged, LEADER_CONTACT_ONLY) == Suppress("no_three_party_agreement")


def test_an_invitation_goes_by_mail_even_to_someone_who_prefers_sms() -> None:
    _, [[_, to_leader]] = apply([scheduled("leader_call")])
    prefers_sms = LEADER.model_copy(update={"phone": "+4520304050", "preferred_channel": "sms"})
    sent = plan_delivery(to_leader, prefers_sms, LEADER_CONTACT_ONLY, MEMBERS, AT)
    assert isinstance(sent, Send) and sent.channel == "email"


def test_the_mail_carries_a_text_calendar_alternative_and_an_ics_attachment() -> None:
    _, [[_, to_leader]] = apply([scheduled("leader_call")])
    rendered = mail(to_leader)
    message = build_message("lederkontakt@tidlig-indsats.dk", "Tidlig Indsats", "lars@example.org",
                            rendered.subject, rendered.body, to_leader.notification_id,
                            MailParts(html=rendered.html, language="da", to_name="Lars Leder",
                                      calendar=rendered.calendar,
                                      calendar_method=rendered.calendar_method))
    parsed = message_from_bytes(message.as_bytes())
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = parsed.get_payload()  # type: ignore[misc]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain", "text/html", "text/calendar"]
    calendar_part = alternative.get_payload()[2]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert calendar_part.get_payload(decode=True) == attachment.get_payload(decode=True) \
        == rendered.calendar


def test_no_health_words_no_session_content_and_no_one_elses_address_in_an_invitation() -> None:
    _, [requests] = apply([scheduled()])
    for request in requests:
        for language in ("da", "en"):
            rendered = mail(request, language)  # type: ignore[arg-type]
            assert rendered.calendar is not None
            text = (rendered.subject + rendered.body + rendered.calendar.decode()).lower()
            others = [p.email for p in (LEADER, EMPLOYEE) if p.person_id != request.recipient_id]
            for word in ("stress", "sygemeld", "sick", "diagnos", "session", "behandling",
                         "treatment", "terapi", "helbred", "health", *others):
                assert word and word not in text, (request.recipient_role, language, word)


def test_an_sms_tells_the_time_without_a_calendar() -> None:
    _, [[_, to_leader]] = apply([scheduled("leader_call")])
    recipient = LEADER.model_copy(update={"email": None, "phone": "+4520304050"})
    sms = render(to_leader.kind, "da", "sms", build_context(to_leader, recipient, PSY))
    assert "03.12.2026 kl. 10.00" in sms.body and sms.calendar is None


def test_consent_recorded_after_the_invitation_reaches_the_others_with_the_next_change() -> None:
    # The invitation is decided once, at sending; consent that comes later sends nothing by
    # itself, and the next change of time reaches everyone the consent then allows.
    plan, _ = apply([scheduled()])
    consent = ConsentRecorded(occurred_at=AT, course_id=COURSE, state=ALL_THREE)
    _, [after_consent, moved] = apply([consent, scheduled(starts=MEETING_AT + timedelta(hours=1))],
                                      plan)
    assert not [r for r in after_consent if r.kind.startswith("three_party_meeting_s")]
    assert [r.recipient_role for r in moved] == ["psychologist", "leader", "employee"]
