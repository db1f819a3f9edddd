"""The HTML part says what the plain text says, escaped, with its language and real links."""

from __future__ import annotations

from services.notifier.domain.html import render_html
from services.notifier.domain.render import render


def test_every_email_has_an_html_part_in_the_recipients_language_with_the_same_words() -> None:
    for language in ("da", "en"):
        mail = render("contact_reminder", language, "email",
                      {"recipient_name": "Pia", "due_date": None, "course_reference": "ABC12345",
                       "contact_kind": "start_call", "reminder_number": 1,
                       "overdue_working_days": None, "review_date": None, "late": False,
                       "psychologist_name": "Pia", "psychologist_email": None,
                       "psychologist_phone": None})
        assert mail.html is not None and mail.language == language
        assert f'<html lang="{language}">' in mail.html
        assert f"<h1>{mail.subject}</h1>" in mail.html
        assert "ABC12345" in mail.html
        assert "<img" not in mail.html and "src=" not in mail.html


def test_an_sms_has_no_html_part() -> None:
    sms = render("contact_reminder", "da", "sms",
                 {"recipient_name": "Pia", "due_date": None, "course_reference": "ABC12345",
                  "contact_kind": "start_call", "reminder_number": 1,
                  "overdue_working_days": None, "review_date": None, "late": False,
                  "psychologist_name": "Pia", "psychologist_email": None,
                  "psychologist_phone": None})
    assert sms.html is None


def test_a_web_address_in_the_text_becomes_a_link_and_every_value_is_escaped() -> None:
    html = render_html("da", "Hej <b>", "Kære <Pia> & co\n\n"
                       "Forløbet: https://portal.example/courses/c-1.\nSlut")
    assert "Hej &lt;b&gt;" in html and "Kære &lt;Pia&gt; &amp; co" in html
    assert ('<a href="https://portal.example/courses/c-1">https://portal.example/courses/c-1</a>.'
            in html)
    assert html.count("<p>") == 2 and "<br>" in html
