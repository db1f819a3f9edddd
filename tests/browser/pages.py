"""What a person does in the browser, in the portal's words."""

from __future__ import annotations

from playwright.async_api import Page

from devtools.portal_stack import BY_SUB


async def log_in(page: Page, url: str, sub: str, path: str = "/") -> None:
    """Log in through the real OIDC provider's page, choosing the predefined user `sub`."""
    await page.goto(f"{url}/login?next={path}")
    await page.get_by_role("button", name="Log ind med kommunens login").click()
    await page.get_by_role("button", name=sub, exact=True).click()
    await page.wait_for_url(f"{url}{path}")
    assert BY_SUB[sub].name in await page.content() or path != "/"


async def switch_language(page: Page, to: str) -> None:
    label = {"en": "English", "da": "Dansk"}[to]
    await page.get_by_role("button", name=label).click()
    await page.wait_for_function(f"document.documentElement.lang === '{to}'")


async def reload_until(page: Page, predicate_js: str, timeout: float = 60) -> None:
    """Reload until the page shows something that other services produce in their own time
    (a course opened by the referral service, a point from the scheduler)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not await page.evaluate(predicate_js):
        if time.monotonic() > deadline:
            raise AssertionError(f"page never satisfied {predicate_js}")
        await asyncio.sleep(0.5)
        await page.reload()


async def form_fields(page: Page, action: str) -> dict[str, str]:
    """The hidden fields (CSRF token, idempotency key) of the form posting to `action`."""
    fields: dict[str, str] = await page.evaluate(
        """(action) => Object.fromEntries([...document.querySelectorAll(
             `form[action="${action}"] input[type=hidden]`)].map(i => [i.name, i.value]))""",
        action)
    return fields
