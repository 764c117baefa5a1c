"""The console's price form sets the 1-hour cache-write and web search prices, and the prices
table and the usage pages show them (real browser)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from .conftest import OWNER_EMAIL, Site, shot, sign_in

NewPage = Callable[..., Awaitable[Page]]


async def test_an_admin_sets_one_hour_cache_write_and_web_search_prices(
    site: Site, new_page: NewPage
) -> None:
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)
    await admin.goto("/console/prices")
    form = admin.locator("#price-form")
    await form.get_by_label("Model").fill("claude-browser-test")
    await form.get_by_label("Input per 1M").fill("3")
    await form.get_by_label("Output per 1M").fill("15")
    await form.get_by_label("Cache write (1 hour) per 1M").fill("6.5")
    await form.get_by_label("Web search per 1K calls").fill("12")
    await form.get_by_role("button", name="Set price").click()
    row = admin.locator("#prices tr", has_text="claude-browser-test")
    await expect(row).to_be_visible()
    cells = row.locator("td")
    # Model, source, input, output, cache read, 5-minute write, 1-hour write, web search.
    await expect(cells.nth(6)).to_have_text(re.compile(r"^\s*6\.50*\s*$"))
    await expect(cells.nth(7)).to_have_text(re.compile(r"^\s*12(\.0*)?\s*$"))
    # Omitted: the 5-minute write falls back to the input price (no genai-prices entry).
    await expect(cells.nth(5)).to_have_text(re.compile(r"^\s*3(\.0*)?\s*$"))
    await expect(admin.locator("#prices thead")).to_contain_text("Cache write 1h")
    await shot(admin, "prices-one-hour-cache-write")
    await admin.goto("/console/usage")
    await expect(admin.locator("#usage-report thead")).to_contain_text("Cache writes 5m/1h")
