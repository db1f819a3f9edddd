"""The portal in a real browser, against the real broker, the services as processes, the OIDC
provider and the SMTP sink."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import timedelta
from typing import Any

import pytest
from icalendar import Calendar
from playwright.async_api import Page

from devtools import portal_stack
from devtools.portal_stack import BY_SUB
from devtools.smtp_sink import free_port
from services.referral.domain.intake import course_id_for
from shared.events import (
    ConsentGiven,
    ContactPointCompleted,
    LeaderContactLogged,
    NotificationRequested,
    PersonUpserted,
    ReferralSubmitted,
    ReferredPerson,
    RemindersChosen,
)
from shared.kafka import EventProducer
from tests.browser.conftest import Stack, check_page
from tests.browser.pages import form_fields, log_in, reload_until, switch_language
from tests.integration.helpers import read_events, wait_for

pytestmark = pytest.mark.integration


async def test_a_leader_refers_an_employee_sees_the_receipt_and_gets_the_receipt_mail(
        stack: Stack, new_page: object) -> None:
    page: Page = await new_page()  # type: ignore[operator]
    await log_in(page, stack.url, "lars")
    await check_page(page, "home")
    await page.goto(f"{stack.url}/referrals/new")
    await check_page(page, "referral-form")
    # Nothing filled in: the errors stand next to their fields, and nothing is published.
    await page.get_by_role("button", name="Send tilmelding").click()
    await page.wait_for_selector("#employee_name-error")
    assert await page.locator("#workplace-error").inner_text() == "Skal udfyldes."
    await check_page(page, "referral-form-errors")
    await switch_language(page, "en")
    await page.goto(f"{stack.url}/referrals/new")
    await page.get_by_role("button", name="Send referral").click()
    await page.wait_for_selector("#employee_name-error")
    assert await page.locator("#workplace-error").inner_text() == "Required."
    await check_page(page, "referral-form-errors")
    await switch_language(page, "da")
    await page.goto(f"{stack.url}/referrals/new")
    await page.get_by_label("Navn").fill("Anna Ansat")
    await page.get_by_label("E-mail").fill("anna@example.org")
    await page.get_by_label("Arbejdsplads", exact=True).fill("Rådhuset")
    await page.get_by_label("Stressrelateret").check()
    hidden = await form_fields(page, "/referrals")
    await page.get_by_role("button", name="Send tilmelding").click()
    await page.wait_for_selector("#reference")
    reference = await page.locator("#reference").inner_text()
    assert reference.startswith("web-")
    await check_page(page, "receipt")
    await switch_language(page, "en")
    await check_page(page, "receipt")
    await switch_language(page, "da")
    # The same form sent again (a refresh, a double click) publishes nothing more, and the
    # forms with errors published nothing at all.
    again = await page.request.post(f"{stack.url}/referrals", form={
        **hidden, "employee_name": "Anna Ansat", "employee_email": "anna@example.org",
        "workplace": "Rådhuset", "reason_category": "stress_related"})
    assert again.ok and reference in await again.text()
    submitted = [e for e in await read_events(stack.kafka, stack.topics.referrals,
                                              expect=1_000_000, timeout=2)
                 if isinstance(e, ReferralSubmitted) and e.referral_id.startswith("web-")]
    assert [e.referral_id for e in submitted] == [reference]
    await wait_for(lambda: any(m.to == "lars@example.org" for m in stack.sink.mails), 60)
    await page.goto(f"{stack.url}/referrals")
    assert reference in await page.content()
    await check_page(page, "my-referrals")
    await switch_language(page, "en")
    await check_page(page, "my-referrals")
    await page.goto(f"{stack.url}/referrals/new")
    await check_page(page, "referral-form")


async def _events_until(stack: Stack, topic: str, match: Any, timeout: float = 60) -> list[Any]:
    """The events on `topic` that `match`, once there is at least one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [e for e in await read_events(stack.kafka, topic, expect=1_000_000, timeout=1.5)
                 if match(e)]
        if found or asyncio.get_running_loop().time() > deadline:
            return found


async def _refer(stack: Stack, referral_id: str, employee: str, psychologist: str) -> str:
    """A referral as the intake receives it (from this portal or any other producer)."""
    producer = EventProducer(stack.kafka.aiokafka_kwargs())
    await producer.start()
    try:
        person = BY_SUB[employee]
        await producer.publish(stack.topics.referrals, ReferralSubmitted(
            occurred_at=stack.now(), referral_id=referral_id,
            employee=ReferredPerson(name=person.name, email=person.email),
            leader=BY_SUB["lars"].person(), psychologist=BY_SUB[psychologist].person(),
            team_lead=BY_SUB["tove"].person(), workplace="Rådhuset",
            reason_category="stress_related", employee_consents_to_leader_contact=False))
    finally:
        await producer.stop()
    return course_id_for(referral_id)


async def test_the_employee_consents_and_the_psychologist_logs_the_start_call_once(
        stack: Stack, new_page: Any) -> None:
    course_id = await _refer(stack, "browser-emil", "emil", "pia")
    employee: Page = await new_page()
    await log_in(employee, stack.url, "emil", "/consent")
    await reload_until(employee, "document.body.innerText.includes('Giv samtykke til lederkontakt')")
    await check_page(employee, "consent")
    await employee.get_by_role("button", name="Giv samtykke til lederkontakt").click()
    # Read your own write: the page after the POST already shows the new consent.
    assert "Psykologen må kontakte din leder." in await employee.inner_text("main")
    await switch_language(employee, "en")
    await check_page(employee, "consent")

    psychologist: Page = await new_page()
    await log_in(psychologist, stack.url, "pia", "/worklist")
    # Once the consent has reached the scheduler, the start call is due and no longer waits.
    await reload_until(psychologist, """[...document.querySelectorAll('h2')].some(h =>
        h.innerText.startsWith('Skal ske i dag') && h.nextElementSibling.innerText.includes('Emil'))""")
    await check_page(psychologist, "worklist")
    await psychologist.get_by_role("link", name="Emil Eriksen").first.click()
    await psychologist.wait_for_url(f"{stack.url}/courses/{course_id}")
    await check_page(psychologist, "course")
    # A double submit of one form (same idempotency key) publishes one event.
    form = await form_fields(psychologist, f"/courses/{course_id}/actions/log-call")
    for _ in range(2):
        response = await psychologist.request.post(
            f"{stack.url}/courses/{course_id}/actions/log-call",
            form={**form, "contact_kind": "start_call", "reached": "yes"})
        assert response.ok
    await psychologist.reload()
    assert "Kontakt med lederen registreret" in await psychologist.inner_text("#timeline")
    logged = [e for e in await read_events(stack.kafka, stack.topics.sessions, expect=100,
                                           timeout=3)
              if e.course_id == course_id and isinstance(e, LeaderContactLogged)]
    assert len(logged) == 1
    # The scheduler completes the start call, and no reminder for it follows.
    done = await _events_until(stack, stack.topics.contact_points, lambda e: isinstance(
        e, ContactPointCompleted) and e.course_id == course_id)
    assert [e.kind for e in done] == ["start_call"]
    await asyncio.sleep(2)
    requests = await read_events(stack.kafka, stack.topics.notifications_requested,
                                 expect=10_000, timeout=3)
    later = [r for r in requests if isinstance(r, NotificationRequested)
             and r.course_id == course_id and r.facts.contact_kind == "start_call"
             and r.occurred_at > done[0].occurred_at]
    assert later == []
    await reload_until(psychologist, "document.querySelector('.state-completed') !== null")
    await switch_language(psychologist, "en")
    await check_page(psychologist, "course")
    await psychologist.goto(f"{stack.url}/worklist")
    await check_page(psychologist, "worklist")


async def test_the_psychologist_puts_a_call_with_the_leader_in_the_calendars_and_cancels_it(
        stack: Stack, new_page: Any) -> None:
    course_id = await _refer(stack, "browser-anna-call", "anna", "pia")
    producer = EventProducer(stack.kafka.aiokafka_kwargs())
    await producer.start()
    try:  # The employee's own consent to leader contact, as the psychologist records it.
        await producer.publish(stack.topics.sessions, ConsentGiven(
            occurred_at=stack.now(), course_id=course_id, party="employee",
            scope="leader_contact"))
    finally:
        await producer.stop()
    page: Page = await new_page()
    await log_in(page, stack.url, "pia", "/worklist")
    await page.goto(f"{stack.url}/courses/{course_id}")
    await reload_until(page, "document.querySelector('#consent-state').innerText"
                             ".startsWith('Medarbejderen har givet')")
    assert "Ingen aftalte møder." in await page.inner_text("main")
    # A time gone by is refused beside its field, and nothing is published.
    meeting = page.locator("section", has=page.get_by_role("heading",
                                                          name="Sæt et møde i kalenderen"))
    await meeting.get_by_label("Samtale med lederen").check()
    await meeting.get_by_label("Dato").fill("2026-11-02")
    await meeting.get_by_role("button", name="Send invitationen").click()
    await page.wait_for_selector("#meeting-meeting_date-error")
    await check_page(page, "course-meeting-error")
    meeting = page.locator("section", has=page.get_by_role("heading",
                                                          name="Sæt et møde i kalenderen"))
    await meeting.get_by_label("Dato").fill("2026-12-03")
    await meeting.get_by_label("Klokkeslæt").fill("10:00")
    await meeting.get_by_label("Minutter").select_option("30")
    await meeting.get_by_role("button", name="Send invitationen").click()
    await page.wait_for_selector("#meetings")
    assert "2026-12-03 10:00" in await page.inner_text("#meetings")
    await check_page(page, "course-meeting")
    await switch_language(page, "en")
    await check_page(page, "course-meeting")
    await switch_language(page, "da")

    def invitations(to: str) -> list[Any]:
        return [m for m in stack.sink.mails if m.to == to and m.calendar is not None
                and "samtale med psykolog" in m.subject.lower()]

    # The psychologist and the consenting leader each get the invitation, with its .ics.
    await wait_for(lambda: invitations("lars@example.org") and invitations("pia@tidlig.dk"), 60)
    [to_lars] = invitations("lars@example.org")
    assert to_lars.subject == "Samtale med psykolog 03.12.2026 kl. 10.00"
    sent = Calendar.from_ical(to_lars.calendar or "")
    assert str(sent["METHOD"]) == "REQUEST"
    [event] = sent.events
    assert str(event["ATTENDEE"]) == "mailto:lars@example.org"
    assert event.end - event.start == timedelta(minutes=30)

    await page.get_by_role("button", name="Aflys: Samtale med lederen 2026-12-03 10:00").click()
    await page.wait_for_function("document.body.innerText.includes('Ingen aftalte møder.')")
    assert "Møde aflyst" in await page.inner_text("#timeline")
    await wait_for(lambda: len(invitations("lars@example.org")) == 2, 60)
    cancel = Calendar.from_ical(invitations("lars@example.org")[1].calendar or "")
    assert str(cancel["METHOD"]) == "CANCEL"
    assert cancel.events[0]["UID"] == event["UID"]
    assert int(cancel.events[0]["SEQUENCE"]) > int(event["SEQUENCE"])


async def test_pages_refuse_people_without_the_right_role_or_course(
        stack: Stack, new_page: Any) -> None:
    karls_course = await _refer(stack, "browser-karl", "anna", "karl")
    psychologist: Page = await new_page()
    await log_in(psychologist, stack.url, "pia", "/worklist")
    response = await psychologist.goto(f"{stack.url}/courses/{karls_course}")
    assert response is not None and response.status == 403
    await check_page(psychologist, "forbidden")
    await switch_language(psychologist, "en")
    await check_page(psychologist, "forbidden")
    await switch_language(psychologist, "da")
    # A POST without the CSRF token is refused, and publishes nothing.
    refused = await psychologist.request.post(
        f"{stack.url}/courses/{karls_course}/actions/end", form={"end_date": "2026-12-01"})
    assert refused.status == 403

    leader: Page = await new_page()
    await log_in(leader, stack.url, "lars", "/referrals")
    response = await leader.goto(f"{stack.url}/courses/{karls_course}")
    assert response is not None and response.status == 403
    response = await leader.goto(f"{stack.url}/worklist")
    assert response is not None and response.status == 403

    lead: Page = await new_page()
    await log_in(lead, stack.url, "tove", "/overview")
    await reload_until(lead, "document.body.innerText.includes('Anna Ansat')")
    await check_page(lead, "overview")
    await lead.goto(f"{stack.url}/courses/{karls_course}")
    await lead.get_by_label("Psykolog", exact=True).select_option("psy-pia")
    await lead.get_by_role("button", name="Giv forløbet videre").click()
    assert "Gemt." in await lead.inner_text("main")
    await switch_language(lead, "en")
    await check_page(lead, "course-team-lead")
    await lead.goto(f"{stack.url}/overview")
    await check_page(lead, "overview")
    # Now Pia's: the course page opens for her.
    response = await psychologist.goto(f"{stack.url}/courses/{karls_course}")
    assert response is not None and response.status == 200


async def test_the_login_page_and_the_front_page_pass_axe_in_both_languages(
        stack: Stack, new_page: Any) -> None:
    page: Page = await new_page()
    await page.goto(f"{stack.url}/login")
    await check_page(page, "login")
    await page.goto(f"{stack.url}/")
    await check_page(page, "front-page")
    await switch_language(page, "en")
    await check_page(page, "front-page")
    await page.goto(f"{stack.url}/login")
    await check_page(page, "login")


async def test_a_leader_fills_in_the_referral_form_on_a_phone_with_the_keyboard_alone(
        stack: Stack, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                        has_touch=True)
    context.set_default_timeout(30_000)
    page: Page = await context.new_page()
    try:
        await log_in(page, stack.url, "lars", "/referrals/new")
        # Nothing wider than the phone: no sideways scrolling to reach a field.
        assert await page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth")
        await check_page(page, "referral-form-phone")
        await page.focus("#employee_name")
        await page.keyboard.type("Rita Rask")
        for field, text in (("employee_email", "rita@example.org"), ("employee_phone", ""),
                            ("employee_language", ""), ("workplace", "Materielgården")):
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == field
            if text:
                await page.keyboard.type(text)
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "unit"
        await page.keyboard.type("Vej og")  # type-ahead in the unit list
        assert await page.locator("#unit").input_value() == "Vej og Park"
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "unit_other"
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "reason_stress_related"
        await page.keyboard.press("Space")
        while await page.evaluate("document.activeElement.tagName") != "BUTTON":
            await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#reference")
        reference = await page.locator("#reference").inner_text()
        await check_page(page, "receipt-phone")
    finally:
        await context.close()
    sent = [e for e in await read_events(stack.kafka, stack.topics.referrals,
                                         expect=1_000_000, timeout=2)
            if isinstance(e, ReferralSubmitted) and e.referral_id == reference]
    assert [(e.unit, e.workplace, e.reason_category) for e in sent] == [
        ("Vej og Park", "Materielgården", "stress_related")]


async def test_team_lead_and_management_read_the_anonymous_reports_and_others_may_not(
        stack: Stack, new_page: Any) -> None:
    await _refer(stack, "browser-rita", "anna", "karl")
    lead: Page = await new_page()
    await log_in(lead, stack.url, "tove", "/reports")
    # The reporting service counts the courses the other tests opened and publishes the
    # reports; the portal reads them from the reports topic.
    await reload_until(lead, "document.body.innerText.includes('Pr. psykolog')", timeout=120)
    # A handful of courses: every count is "<5", shown as such, never the number.
    assert await lead.locator("td", has_text="<5").count() > 0
    assert await lead.get_by_role("img", name="Stressrelaterede forløb").count() == 1
    assert await lead.locator("svg[role=img] title").count() == 2
    await check_page(lead, "reports-team-lead")
    async with lead.expect_download() as info:
        await lead.get_by_role("link", name="Hent pr. psykolog").click()
    data = (await (await info.value).path()).read_bytes()
    assert data.startswith("\ufeff".encode()) and b";Psykolog;;" in data
    await switch_language(lead, "en")
    await check_page(lead, "reports-team-lead")

    management: Page = await new_page()
    await log_in(management, stack.url, "mona", "/reports")
    await reload_until(management, "document.body.innerText.includes('Nøgletal')")
    text = await management.inner_text("main")
    assert "Pr. psykolog" not in text and "Karl Kirk" not in text and "<5" in text
    await check_page(management, "reports")
    async with management.expect_download() as info:
        await management.get_by_role("link", name="som CSV til Excel").click()
    data = (await (await info.value).path()).read_bytes()
    assert data.startswith("\ufeff".encode()) and b"\r\n2026-11;I alt;;;" in data
    assert b";<5;" in data
    response = await management.goto(f"{stack.url}/overview")
    assert response is not None and response.status == 403

    leader: Page = await new_page()
    await log_in(leader, stack.url, "lars", "/referrals")
    response = await leader.goto(f"{stack.url}/reports")
    assert response is not None and response.status == 403


async def _reminders_on_record(stack: Stack, person_id: str, reminders: str) -> None:
    """Wait until the referral service has written the choice on `people`."""
    assert await _events_until(stack, stack.topics.people, lambda e: isinstance(
        e, PersonUpserted) and e.person.person_id == person_id
        and e.person.reminders == reminders), f"{person_id}: {reminders} not on people"


async def test_a_team_lead_chooses_each_message_on_its_own_on_a_phone_with_the_keyboard(
        stack: Stack, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                        has_touch=True)
    context.set_default_timeout(30_000)
    page: Page = await context.new_page()
    try:
        await log_in(page, stack.url, "tove", "/settings")
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # Nothing stated yet: staff get the morning digest.
        assert await page.get_by_label("Én samlet mail om morgenen").is_checked()
        await check_page(page, "settings-phone")
        await page.focus("#reminders-digest")
        await page.keyboard.press("ArrowDown")  # arrows move within the radio group
        assert await page.get_by_label("Hver besked for sig").is_checked()
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.tagName") == "BUTTON"
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=Du får nu hver besked for sig.")
        assert "Gemt." in await page.inner_text("main")
        assert await page.get_by_label("Hver besked for sig").is_checked()
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await check_page(page, "settings-phone")
        await switch_language(page, "en")
        assert await page.get_by_label("Each message on its own").is_checked()
        await check_page(page, "settings-phone")
    finally:
        await context.close()
    await _reminders_on_record(stack, "lead-tove", "each")
    chosen = [e for e in await read_events(stack.kafka, stack.topics.referrals,
                                           expect=1_000_000, timeout=2)
              if isinstance(e, RemindersChosen) and e.person_id == "lead-tove"]
    assert [(e.reminders, e.name) for e in chosen] == [("each", "Tove Teamleder")]


async def test_a_psychologist_follows_the_link_in_a_reminder_mail_to_the_course_page(
        stack: Stack, new_page: Any) -> None:
    # Pia wants each reminder on its own: she says so on her settings page.
    settings: Page = await new_page()
    await log_in(settings, stack.url, "pia", "/settings")
    await settings.get_by_label("Hver besked for sig").check()
    await settings.get_by_role("button", name="Gem").click()
    await settings.wait_for_selector("text=Du får nu hver besked for sig.")
    await check_page(settings, "settings")
    await switch_language(settings, "en")
    await check_page(settings, "settings")
    await _reminders_on_record(stack, "psy-pia", "each")
    # The referral names Pia without a word about reminders: her choice stands.
    course_id = await _refer(stack, "browser-link", "anna", "pia")
    link = f"{stack.url}/courses/{course_id}"
    # No consent yet: the start call waits, and Pia is reminded to discuss consent, by mail.
    await wait_for(lambda: any(m.to == "pia@tidlig.dk" and link in m.body
                               for m in stack.sink.mails), 90)
    await wait_for(lambda: any(m.to == "lars@example.org" for m in stack.sink.mails), 60)
    mail = next(m for m in stack.sink.mails if m.to == "pia@tidlig.dk" and link in m.body)
    assert re.findall(r"https?://\S+", mail.body) == [link]
    # The leader's mails link to nothing.
    assert [m for m in stack.sink.mails if m.to == "lars@example.org"]
    assert not [m for m in stack.sink.mails if m.to == "lars@example.org" and "http" in m.body]

    page: Page = await new_page()
    # Following the link (as a mail scanner does first) only asks for a login.
    await page.goto(link)
    await page.wait_for_url(f"{stack.url}/login?next=/courses/{course_id}")
    await page.get_by_role("button", name="Log ind med kommunens login").click()
    await page.get_by_role("button", name="pia", exact=True).click()
    await page.wait_for_url(link)
    assert "Anna Ansat" in await page.inner_text("main")
    await check_page(page, "course-from-mail")
    sessions = [e for e in await read_events(stack.kafka, stack.topics.sessions, expect=10_000,
                                             timeout=2) if e.course_id == course_id]
    assert sessions == []


async def test_with_kafka_unreachable_an_action_gets_a_clear_try_again_page(
        stack: Stack, new_page: Any) -> None:
    # A second portal whose broker address answers nothing: it starts and serves pages anyway.
    port = free_port()
    env = {**stack.env, "LEDERKONTAKT_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
           "LEDERKONTAKT_PORTAL_PORT": str(port),
           "LEDERKONTAKT_PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    portal = portal_stack.start_portal(env, log=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        page: Page = await new_page()
        await log_in(page, url, "lars", "/referrals/new")
        for language, button, words in (("da", "Send tilmelding", "Prøv igen om lidt"),
                                        ("en", "Send referral", "Please try again")):
            if language == "en":
                await switch_language(page, "en")
                await page.goto(f"{url}/referrals/new")
            await page.locator("#employee_name").fill("Bo Berg")
            await page.locator("#employee_email").fill("bo@example.org")
            await page.locator("#workplace").fill("Rådhuset")
            await page.locator("#reason_stress_related").check()
            async with page.expect_response(f"{url}/referrals") as answer:
                await page.get_by_role("button", name=button).click()
            assert (await answer.value).status == 503
            assert words in await page.inner_text("main")
            await check_page(page, "try-again")
    finally:
        portal_stack.stop([portal])
