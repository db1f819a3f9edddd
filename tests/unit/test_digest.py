"""The morning digest: what a psychologist's and a team lead's day holds, and how it reads."""

from __future__ import annotations

from datetime import date, datetime

from services.notifier.adapters.plans import course_contacts
from services.notifier.domain.digest import (
    CourseContacts,
    Digest,
    OpenPoint,
    build_digest,
    digest_id,
)
from services.notifier.domain.digest_render import render_digest
from shared.calendar import COPENHAGEN, WorkingDayCalendar
from shared.events import ConsentState, ConsentStatement

CAL = WorkingDayCalendar()
PORTAL = "https://portal.example.dk"
MONDAY = date(2026, 11, 30)
AT = datetime(2026, 11, 20, 9, 0, tzinfo=COPENHAGEN)
YES = ConsentState(leader_contact=ConsentStatement(agreed=True, as_of=AT))
NO = ConsentState(leader_contact=ConsentStatement(agreed=False, as_of=AT))


def course(cid: str, *points: OpenPoint, psy: str = "psy-1", lead: str | None = "tl-1") -> CourseContacts:
    return CourseContacts(cid, psy, lead, points)


def start_call(due_from: date, due_by: date, blocked: bool = False) -> OpenPoint:
    return OpenPoint("start_call", "start_call", due_from, due_by, blocked)


def day_of(courses: list[CourseContacts], consent: dict[str, ConsentState],
           recipient: str = "psy-1", day: date = MONDAY) -> Digest:
    return build_digest(recipient, day, courses, consent.get, CAL)


def test_a_psychologists_day_has_due_overdue_waiting_and_upcoming_points() -> None:
    courses = [
        course("c-due", start_call(MONDAY, date(2026, 12, 2))),
        course("c-late", start_call(date(2026, 11, 20), date(2026, 11, 24))),
        course("c-wait", start_call(MONDAY, date(2026, 12, 2), blocked=True)),
        course("c-soon", OpenPoint("plan_review:p1", "plan_review", date(2026, 12, 4),
                                   date(2026, 12, 4))),
        course("c-far", OpenPoint("plan_review:p2", "plan_review", date(2027, 2, 1),
                                  date(2027, 2, 1))),
    ]
    consent = {"c-due": YES, "c-late": YES, "c-wait": NO, "c-soon": NO, "c-far": YES}
    digest = day_of(courses, consent)
    assert [(x.section, x.course_id, x.action) for x in digest.lines] == [
        ("due_today", "c-due", "call_leader"),
        ("overdue", "c-late", "call_leader"),
        ("waiting_for_consent", "c-wait", "discuss_consent"),
        ("upcoming", "c-soon", "review_plan"),
    ]
    assert digest.section("overdue")[0].overdue_working_days == 4  # 25, 26, 27, 30 November


def test_a_point_is_waiting_for_consent_when_the_consent_was_withdrawn_since_the_plan() -> None:
    digest = day_of([course("c-1", start_call(MONDAY, date(2026, 12, 2)))], {"c-1": NO})
    assert [(x.section, x.action) for x in digest.lines] == [("waiting_for_consent",
                                                              "discuss_consent")]


def test_an_empty_day_has_nothing_to_say() -> None:
    assert day_of([], {}).is_empty
    far = course("c-1", start_call(date(2027, 1, 4), date(2027, 1, 6)))
    assert day_of([far], {"c-1": YES}).is_empty


def test_a_point_completed_before_the_moment_drops_out() -> None:
    from dataclasses import replace

    from services.contact_scheduler.domain.plan import ContactPoint, CoursePlan, open_points

    point = ContactPoint(point_id="start_call", kind="start_call", due_from=MONDAY,
                         due_by=date(2026, 12, 2), state="due", fired=("due",))
    plan = CoursePlan(course_id="c-1", status="open", psychologist_id="psy-1",
                      points={point.point_id: point})

    def listed(plan: CoursePlan) -> CourseContacts | None:
        """What the scheduler writes on contact-points.open, as the notifier reads it (with
        the psychologist from the course's consents record)."""
        record = open_points(plan)
        contacts = course_contacts(record.model_dump_json().encode()) if record else None
        return replace(contacts, psychologist_id="psy-1") if contacts else None

    before = listed(plan)
    assert before is not None and not day_of([before], {"c-1": YES}).is_empty
    assert listed(plan.with_point(point.model_copy(update={"state": "completed"}))) is None


def test_courses_of_other_psychologists_say_nothing_to_this_one() -> None:
    other = course("c-1", start_call(MONDAY, date(2026, 12, 2)), psy="psy-2", lead="tl-2")
    assert day_of([other], {"c-1": YES}).is_empty


def test_the_team_lead_sees_every_overdue_point_of_the_team_and_nothing_else() -> None:
    courses = [
        course("c-late", start_call(date(2026, 11, 20), date(2026, 11, 24))),
        course("c-late2", start_call(date(2026, 11, 20), date(2026, 11, 25)), psy="psy-2"),
        course("c-due", start_call(MONDAY, date(2026, 12, 2))),
        course("c-wait", start_call(date(2026, 11, 20), date(2026, 11, 24), blocked=True)),
        course("c-other", start_call(date(2026, 11, 20), date(2026, 11, 24)), lead="tl-2"),
    ]
    consent = dict.fromkeys(("c-late", "c-late2", "c-due", "c-other"), YES)
    digest = day_of(courses, consent, recipient="tl-1")
    assert [(x.section, x.course_id, x.psychologist_id) for x in digest.lines] == [
        ("team_overdue", "c-late", "psy-1"), ("team_overdue", "c-late2", "psy-2")]


def test_the_digest_id_is_one_per_person_per_day() -> None:
    assert digest_id("psy-1", MONDAY) == "digest:psy-1:2026-11-30"


def _digest() -> Digest:
    courses = [course("c-abcdef12", start_call(MONDAY, date(2026, 12, 2))),
               course("c-0011aa22", start_call(date(2026, 11, 20), date(2026, 11, 24)))]
    return day_of(courses, {"c-abcdef12": YES, "c-0011aa22": YES})


def test_the_danish_digest_lists_each_line_with_reference_action_deadline_and_link() -> None:
    mail = render_digest(_digest(), "Pia Psykolog", "da", PORTAL)
    assert mail.subject == "Dagens lederkontakter 30.11.2026"
    assert mail.body.startswith("Kære Pia Psykolog\n\nHer er dine lederkontakter for mandag 30.11.2026.")
    assert "I dag\n- Forløb ABCDEF12: Ring til lederen (opstartssamtalen), senest 02.12.2026\n" \
           "  https://portal.example.dk/courses/c-abcdef12" in mail.body
    assert "Overskredet\n- Forløb 0011AA22: Ring til lederen (opstartssamtalen), senest " \
           "24.11.2026 (4 arbejdsdage forsinket)" in mail.body
    assert mail.html is not None and '<html lang="da">' in mail.html
    assert '<h2>I dag</h2>' in mail.html
    assert "<li>Forløb ABCDEF12: Ring til lederen (opstartssamtalen), senest 02.12.2026 " \
           '<a href="https://portal.example.dk/courses/c-abcdef12">' in mail.html
    assert mail.language == "da"


def test_the_english_digest_says_the_same_in_english() -> None:
    mail = render_digest(_digest(), "Pia Psykolog", "en", PORTAL)
    assert mail.subject == "Today's leader contacts 30.11.2026"
    assert "Due today\n- Course ABCDEF12: Call the leader (the start call), by 02.12.2026" in mail.body
    assert "(4 working days overdue)" in mail.body
    assert mail.html is not None and '<html lang="en">' in mail.html and "<h2>Overdue</h2>" in mail.html


def test_the_html_part_escapes_names_and_has_no_remote_resources() -> None:
    mail = render_digest(_digest(), "<script>alert(1)</script>", "da", PORTAL)
    assert mail.html is not None
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<img" not in mail.html and "src=" not in mail.html
    assert all(href.startswith(PORTAL) for href in mail.html.split('href="')[1:])
