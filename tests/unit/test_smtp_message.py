"""The e-mail as it goes over the wire: encoded names and subjects, no header injection."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.header import Header
from typing import Any

import pytest

from services.notifier.adapters.provider import PermanentFailure
from services.notifier.adapters.smtp import build_message, message_bytes, message_id
from services.notifier.ports import MailParts


def parsed(subject: str, name: str = "Tidlig Indsats", to: str = "lars@example.org") -> object:
    raw = build_message("lk@tidlig-indsats.dk", name, to, subject, "Kære Lars\nÆbler ø å\n",
                        "c-1:start_call:due:leader").as_bytes()
    return message_from_bytes(raw, policy=policy.default)


def test_a_danish_subject_and_body_arrive_as_written() -> None:
    msg = parsed("Psykologen ringer til dig — æøå", name="Tidlig Indsats Ålborg")
    assert msg["Subject"] == "Psykologen ringer til dig — æøå"  # type: ignore[index]
    assert msg["From"] == "Tidlig Indsats Ålborg <lk@tidlig-indsats.dk>"  # type: ignore[index]
    assert msg.get_content() == "Kære Lars\nÆbler ø å\n"  # type: ignore[attr-defined]
    assert msg["Message-ID"] == message_id("c-1:start_call:due:leader",  # type: ignore[index]
                                           "tidlig-indsats.dk")


def test_a_line_break_in_a_subject_cannot_add_a_header() -> None:
    msg = parsed("Hej\r\nBcc: someone@evil.example")
    assert msg["Bcc"] is None  # type: ignore[index]
    assert "Bcc: someone@evil.example" in msg["Subject"]  # type: ignore[index]


def test_a_line_break_in_an_address_is_refused() -> None:
    with pytest.raises(PermanentFailure, match="line break"):
        parsed("Hej", to="lars@example.org\r\nBcc: someone@evil.example")


def test_a_message_with_html_is_multipart_alternative_text_first_with_language_and_name() -> None:
    raw = build_message("lk@tidlig-indsats.dk", "Tidlig Indsats", "pia@tidlig.dk", "Påmindelse",
                        "Kære Pia\n", "c-1:start_call:due:psychologist",
                        MailParts(html='<html lang="da"><p>Kære Pia</p></html>', language="da",
                                  to_name="Pia Ærø Psykolog")).as_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == [  # type: ignore[attr-defined]
        "text/plain", "text/html"]
    assert msg["To"] == "Pia Ærø Psykolog <pia@tidlig.dk>"
    assert msg["Content-Language"] == "da"
    html = msg.get_body(("html",))
    assert html is not None and html.get_content().startswith('<html lang="da">')  # type: ignore[attr-defined]


def test_a_line_break_in_the_recipients_name_cannot_add_a_header() -> None:
    raw = build_message("lk@tidlig-indsats.dk", "Tidlig Indsats", "pia@tidlig.dk", "Hej", "x\n",
                        "n", MailParts(to_name="Pia\r\nBcc: someone@evil.example")).as_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "pia@tidlig.dk"


def test_every_part_is_base64_so_the_boundary_cannot_occur_in_one() -> None:
    """The boundaries start with "=_", which no base64 line can: a part in another transfer
    encoding would need the email package's own search for a boundary again."""
    calendar = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n--=_x\r\nEND:VCALENDAR\r\n"
    msg = build_message("lk@tidlig-indsats.dk", "Tidlig Indsats", "lars@example.org", "Møde",
                        "--=_0\n=_ tekst æøå\n", "c-1:meeting:leader",
                        MailParts(html="<p>--=_0 æøå</p>", language="da", calendar=calendar))
    raw = msg.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    leaves = [p for p in parsed.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in leaves] == [
        "text/plain", "text/html", "text/calendar", "application/ics"]
    assert all(p["Content-Transfer-Encoding"] == "base64" for p in leaves)
    boundaries = [p.get_boundary() for p in parsed.walk() if p.is_multipart()]
    assert len(boundaries) == 2 and all(b.startswith("=_") for b in boundaries)
    assert leaves[0].get_content() == "--=_0\n=_ tekst æøå\n"
    assert leaves[2].get_content().replace("\r\n", "\n") == calendar.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("parts", [
    MailParts(),
    MailParts(html="<p>Kære Lars</p>", language="da", to_name="Lars Ærø"),
    MailParts(html="<p>x</p>", to_name="Pia Psykolog", calendar=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
              calendar_method="REQUEST"),
])
@pytest.mark.parametrize("subject", ["Hej", "Påmindelse: ring til Lars senest 30.11.2026",
                                     "A plain subject long enough that the folding algorithm must "
                                     "wrap it over more than one line of the header"])
def test_a_message_is_written_out_as_the_email_package_writes_it_without_refolding_short_headers(
    parts: MailParts, subject: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    msg = build_message("lk@tidlig-indsats.dk", "Tidlig Indsats", "lars@example.org", subject,
                        "Kære Lars\n", "c-1:start_call:due:leader", parts)
    expected = msg.as_bytes()
    folded: list[str] = []
    encode = Header.encode

    def counted(self: Header, *args: Any, **kwargs: Any) -> str:
        folded.append(str(self))
        return encode(self, *args, **kwargs)

    monkeypatch.setattr(Header, "encode", counted)
    assert message_bytes(msg) == expected
    # Only a header too long for one line goes through the folding algorithm.
    assert all(len(value) > 60 for value in folded)
