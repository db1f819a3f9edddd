"""Calendar invitations: iCalendar (RFC 5545) with iTIP's METHOD (RFC 5546), built with
`icalendar`.

One meeting keeps one UID for its whole life, so a calendar replaces it on an update (a higher
SEQUENCE) and removes it on a cancellation (METHOD:CANCEL). Times are in Europe/Copenhagen with
its VTIMEZONE in the object, as Outlook and Google Calendar expect. The organiser is the
service's own mailbox, the one the mail comes from (calendars trust an invitation whose
organiser sent it); the one attendee is the recipient, so no copy shows anyone else's address.
The event is private (CLASS:PRIVATE), so a calendar shared with colleagues shows it as busy
time only, and its title says the kind of meeting and the course reference, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress, vText

from shared.calendar import COPENHAGEN
from shared.notification_kinds import CalendarMethod

PRODID = "-//Tidlig Indsats//lederkontakt//DA"
UID_DOMAIN = "lederkontakt.tidlig-indsats.dk"


@dataclass(frozen=True)
class Address:
    email: str
    name: str


@dataclass(frozen=True)
class Invitation:
    uid: str
    method: CalendarMethod
    sequence: int
    starts_at: datetime
    minutes: int
    summary: str
    organizer: Address
    attendee: Address
    # When this version of the meeting was decided (DTSTAMP).
    stamp: datetime


def meeting_uid(course_id: str, meeting_id: str) -> str:
    """The same meeting always has the same UID, whoever receives it and however often."""
    return f"{meeting_id}.{course_id}@{UID_DOMAIN}"


def copenhagen_vtimezone() -> Timezone:
    """Europe/Copenhagen as Google Calendar writes it: the EU rule (summer time from the last
    Sunday of March 02:00 to the last Sunday of October 03:00) as two yearly RRULEs. Outlook
    reads a zone's rules from its RRULEs; the list of dates the library would otherwise write
    ends in 2037. A test compares it with the tz database hour by hour over years to come."""
    zone = Timezone()
    zone.add("tzid", "Europe/Copenhagen")
    zone.add("x-lic-location", "Europe/Copenhagen")
    for cls, name, start, offsets, month in (
            (TimezoneDaylight, "CEST", datetime(1970, 3, 29, 2), (1, 2), 3),
            (TimezoneStandard, "CET", datetime(1970, 10, 25, 3), (2, 1), 10)):
        part = cls()
        part.add("tzname", name)
        part.add("dtstart", start)
        part.add("tzoffsetfrom", timedelta(hours=offsets[0]))
        part.add("tzoffsetto", timedelta(hours=offsets[1]))
        part.add("rrule", {"freq": "yearly", "bymonth": month, "byday": "-1su"})
        zone.add_component(part)
    return zone


def _address(address: Address, **params: str) -> vCalAddress:
    value = vCalAddress(f"mailto:{address.email}")
    value.params["CN"] = vText(address.name)
    for key, param in params.items():
        value.params[key] = vText(param)
    return value


def build_ics(invite: Invitation) -> bytes:
    """The invitation (or its cancellation) as the bytes of a VCALENDAR object."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", invite.method)
    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", invite.stamp.astimezone(UTC))
    start = invite.starts_at.astimezone(COPENHAGEN)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=invite.minutes))
    event.add("summary", invite.summary)
    event.add("description", invite.summary)
    event.add("class", "PRIVATE")
    event.add("status", "CANCELLED" if invite.method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(invite.organizer))
    event.add("attendee", _address(invite.attendee, ROLE="REQ-PARTICIPANT",
                                   PARTSTAT="NEEDS-ACTION", RSVP="FALSE"))
    calendar.add_component(copenhagen_vtimezone())
    calendar.add_component(event)
    return bytes(calendar.to_ical())
