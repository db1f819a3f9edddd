"""Thirty courses started in November 2026, built so each figure can be worked out by hand.

Course i (0-29):
- unit: 0-11 Dagtilbud Nord (A1), 12-17 Dagtilbud Syd (A2), 18-25 Vej og Park (B1),
  26-29 typed by hand ("other");
- stress-related: i < 18 (18 of 30); on sick leave at referral: i divisible by 3 and < 25 (9);
- working days from referral to start: 0 for i < 10, 1 for 10-21, 2 for 22-29;
- start: the (i mod 15)-th working day after 2 November 2026; start call due 2 working days
  after the start; done after 1 working day (i < 10), 2 (10-19), 4 (20-24, late), never (25-29);
- ended 14 days after the start for i < 10, end contact done for i < 8;
- follow-ups: 2 for i < 15, else 1 (45 in all); consent to leader contact: i < 24;
- three-party meeting wished: i < 7, held: i < 5; return-to-work plan: i < 6, retention
  plan: 6 <= i < 10; psychologist: psy-1 for even i, psy-2 for odd i.
"""

from __future__ import annotations

from datetime import date, timedelta

from services.reporting.domain.facts import CourseFacts
from services.reporting.domain.orgunits import OrgUnits
from shared.calendar import WorkingDayCalendar

CAL = WorkingDayCalendar()
AS_OF = date(2026, 12, 15)
ORG = OrgUnits.from_toml("""
[[administration]]
name = "Børn og Unge"
units = ["Dagtilbud Nord", "Dagtilbud Syd"]

[[administration]]
name = "Teknik og Miljø"
units = ["Vej og Park"]
""")


def unit_of(i: int) -> str:
    if i < 12:
        return "Dagtilbud Nord"
    if i < 18:
        return "Dagtilbud Syd"
    if i < 26:
        return "Vej og Park"
    return "other"


def course(i: int) -> CourseFacts:
    start = CAL.add_working_days(date(2026, 11, 2), i % 15)
    delay = 0 if i < 10 else 1 if i < 22 else 2
    call_after = 1 if i < 10 else 2 if i < 20 else 4 if i < 25 else None
    end = start + timedelta(days=14) if i < 10 else None
    return CourseFacts(
        course_id=f"c-{i}",
        referred_on=CAL.add_working_days(start, -delay),
        unit=unit_of(i),
        stress_related=i < 18,
        sick_leave_at_referral=i % 3 == 0 and i < 25,
        start_date=start,
        psychologist_id="psy-1" if i % 2 == 0 else "psy-2",
        start_call_due_by=CAL.add_working_days(start, 2),
        start_call_done_on=CAL.add_working_days(start, call_after) if call_after else None,
        end_contact_due_by=CAL.add_working_days(end, 5) if end else None,
        end_contact_done_on=end + timedelta(days=1) if end and i < 8 else None,
        follow_up_events=tuple(f"f-{i}-{k}" for k in range(2 if i < 15 else 1)),
        consent_recorded=i < 24,
        three_party_wished=i < 7,
        three_party_held=i < 5,
        return_to_work_plan=i < 6,
        retention_plan=6 <= i < 10,
        end_date=end,
    )


COURSES = [course(i) for i in range(30)]
