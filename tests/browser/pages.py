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
