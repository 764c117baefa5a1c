"""Console 2.0 in a real browser: the grouped left navigation (folded behind Menu on a phone),
breadcrumbs, the header search as you type, and dark mode (the system's, or the person's
remembered choice, applied before the first paint)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from .conftest import Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
DARK_BG = "rgb(16, 20, 26)"
LIGHT_BG = "rgb(255, 255, 255)"


async def _background(page: Page) -> str:
    return str(await page.evaluate("getComputedStyle(document.documentElement).backgroundColor"))


async def test_navigation_breadcrumbs_and_search(site: Site, new_page: NewPage) -> None:
    await site.add_user("zora.quinn@example.com")
    page = await new_page(width=1440)
    await sign_in(page, site.owner_email)
    nav = page.locator("#nav")
    for heading in ("Pool", "People", "Money", "Usage", "Policy", "Settings"):
        await expect(nav.get_by_role("heading", name=heading)).to_be_visible()
    await nav.get_by_role("link", name="Forecast").click()
    await expect(nav.locator('a[aria-current="page"]')).to_have_text("Forecast")
    await expect(page.locator("#breadcrumbs")).to_contain_text("Usage")

    await page.locator("#f-search-q").press_sequentially("zora")
    hit = page.locator("#search-results a", has_text="zora.quinn@example.com")
    await expect(hit).to_be_visible()
    await hit.click()
    await expect(page.locator("#user-facts")).to_contain_text("Zora.Quinn")
    await expect(nav.locator('a[aria-current="page"]')).to_have_text("Users")
    await expect(page.locator("#breadcrumbs")).to_contain_text("People")


async def test_the_navigation_folds_on_a_phone(site: Site, new_page: NewPage) -> None:
    page = await new_page(width=390, height=844)
    await sign_in(page, site.owner_email)
    await page.goto("/console/users")
    await expect(page.locator("#nav")).to_be_hidden()
    toggle = page.locator("#nav-toggle")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(page.locator("#nav").get_by_role("link", name="Users")).to_be_visible()
    await shot(page, "layout-phone-menu")


async def test_dark_mode_follows_the_system_and_remembers_a_choice(
    site: Site, new_page: NewPage
) -> None:
    dark = await new_page(color_scheme="dark")
    await sign_in(dark, site.owner_email)
    assert await _background(dark) == DARK_BG
    await expect(dark.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")

    page = await new_page(color_scheme="light")
    await sign_in(page, site.owner_email)
    assert await _background(page) == LIGHT_BG
    await page.locator("#theme-toggle").click()
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert await _background(page) == DARK_BG
    await page.goto("/console/users", wait_until="commit")
    # theme.js runs in <head>, before the body paints: dark from the first frame on.
    await page.wait_for_selector("body", state="attached")
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await expect(page.locator("#theme-toggle")).to_have_text("Light mode")
    await shot(page, "layout-dark-users")
    await page.locator("#theme-toggle").click()
    await page.reload()
    assert await _background(page) == LIGHT_BG
