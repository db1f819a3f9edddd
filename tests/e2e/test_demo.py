"""The demo scenario with the three services as real processes on the real broker."""

from __future__ import annotations

import pytest

from devtools import demo

pytestmark = pytest.mark.integration


def test_the_demo_delivers_exactly_what_consent_allows(kafka_bootstrap: str) -> None:
    mails, sms = demo.run(bootstrap=kafka_bootstrap, days=3.0, quiet=True)
    by_person: dict[str, list[str]] = {}
    for mail in mails:
        by_person.setdefault(mail.to, []).append(mail.subject)
    # Bo never consented and Cecilie withdrew: their leaders get the receipt and nothing else.
    assert by_person["mette@example.org"] == ["Vi har modtaget din tilmelding"]
    assert by_person["jens@example.org"] == ["We have received your referral"]
    # Anna consented: receipt, the start call announcement, then the end contact announcement.
    assert by_person["lars@example.org"] == ["Vi har modtaget din tilmelding",
                                             "Psykologen ringer til dig",
                                             "Psykologen ringer til dig"]
    # Dorte's leader prefers SMS: receipt, start call, three-party meeting.
    assert [m["recipients"] for m in sms] == [[{"msisdn": 4521314151}]] * 3
    assert "trepartssamtale" in str(sms[2]["message"])
    assert by_person["dorte@example.org"] == ["Trepartssamtale aftalt"]
    # Pia gets one digest each working morning instead of the single reminders, and the news
    # of the agreed meeting as it happens.
    psychologist = by_person["pia@tidlig.dk"]
    assert [s for s in psychologist if s.startswith("Dagens lederkontakter")] == [
        "Dagens lederkontakter 30.11.2026", "Dagens lederkontakter 01.12.2026",
        "Dagens lederkontakter 02.12.2026"]
    assert "Trepartssamtale aftalt" in psychologist
    assert not [s for s in psychologist if s.startswith(("Påmindelse", "Drøft samtykke"))]
    # No employee hears anything but the meeting they agreed to.
    for employee in ("anna@example.org", "bo@example.org", "cecilie@example.org"):
        assert employee not in by_person
