"""The portal in a real browser, against the real broker, the services as processes, the OIDC
provider and the SMTP sink."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.browser.conftest import Stack, check_page
from tests.browser.pages import log_in, switch_language
from tests.integration.helpers import wait_for

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
    await page.get_by_label("Navn").fill("Anna Ansat")
    await page.get_by_label("E-mail").fill("anna@example.org")
    await page.get_by_label("Arbejdsplads", exact=True).fill("Rådhuset")
    await page.get_by_label("Stressrelateret").check()
    await page.get_by_role("button", name="Send tilmelding").click()
    await page.wait_for_selector("#reference")
    reference = await page.locator("#reference").inner_text()
    assert reference.startswith("web-")
    await check_page(page, "receipt")
    await wait_for(lambda: any(m.to == "lars@example.org" for m in stack.sink.mails), 60)
    await page.goto(f"{stack.url}/referrals")
    assert reference in await page.content()
    await check_page(page, "my-referrals")
    await switch_language(page, "en")
    await check_page(page, "my-referrals")
    await page.goto(f"{stack.url}/referrals/new")
    await check_page(page, "referral-form")
