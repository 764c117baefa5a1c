"""The console's price form sets the 1-hour cache-write and web search prices, and the prices
table and the usage pages show them (real browser)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate

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
    # Model, account, source, input, output, cache read, 5-minute write, 1-hour write, web search.
    await expect(cells.nth(7)).to_have_text(re.compile(r"^\s*6\.50*\s*$"))
    await expect(cells.nth(8)).to_have_text(re.compile(r"^\s*12(\.0*)?\s*$"))
    # Omitted: the 5-minute write falls back to the input price (no genai-prices entry).
    await expect(cells.nth(6)).to_have_text(re.compile(r"^\s*3(\.0*)?\s*$"))
    await expect(admin.locator("#prices thead")).to_contain_text("Cache write 1h")
    await shot(admin, "prices-one-hour-cache-write")
    await admin.goto("/console/usage")
    await expect(admin.locator("#usage-report thead")).to_contain_text("Cache writes 5m/1h")


async def test_an_admin_sets_a_price_for_one_pool_account(site: Site, new_page: NewPage) -> None:
    async with session_scope(site.runtime.db) as session:
        await pool_service.add_account(
            session,
            local_actor(),
            data=AccountCreate.model_validate(
                {
                    "name": "Azure EU",
                    "provider": "openai",
                    "base_url": site.upstream.url,
                    "api_key": "sk-browser-account-price-0001",
                    "models": ["gpt-5"],
                }
            ),
        )
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)
    await admin.goto("/console/prices")
    form = admin.locator("#price-form")
    await form.get_by_label("Model").fill("gpt-5")
    await form.get_by_label("Input per 1M").fill("2")
    await form.get_by_label("Output per 1M").fill("8")
    await form.get_by_label("Pool account (optional)").fill("nobody")
    await form.get_by_role("button", name="Set price").click()
    await expect(admin.get_by_text("No pool account is named 'nobody'")).to_be_visible()
    await expect(admin.locator("#prices tr", has_text="gpt-5")).to_have_count(0)
    await admin.goto("/console/prices")
    form = admin.locator("#price-form")
    await form.get_by_label("Model").fill("gpt-5")
    await form.get_by_label("Input per 1M").fill("2")
    await form.get_by_label("Output per 1M").fill("8")
    await form.get_by_label("Pool account (optional)").fill("Azure EU")
    await form.get_by_role("button", name="Set price").click()
    row = admin.locator("#prices tr", has_text="Azure EU")
    await expect(row).to_be_visible()
    await expect(row.locator("td").nth(0)).to_have_text("gpt-5")
    await expect(row.locator("td").nth(4)).to_have_text(re.compile(r"^\s*8(\.0*)?\s*$"))
    await shot(admin, "prices-account-override")


async def test_the_statement_page_shows_cache_writes_by_lifetime(
    site: Site, new_page: NewPage
) -> None:
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)
    await admin.goto(f"/console/usage/statements?user={OWNER_EMAIL}")
    head = admin.locator("#statement-lines thead")
    await expect(head).to_contain_text("Cache read")
    await expect(head).to_contain_text("Cache write 5m")
    await expect(head).to_contain_text("Cache write 1h")
