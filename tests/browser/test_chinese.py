"""The console in Simplified Chinese in a real browser (issue 22): the header's language switch,
a browser whose language is Chinese, the theme button's label written by script, and axe on the
Chinese pages at desktop and phone widths in both themes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from .conftest import Site, sign_in
from .console_pages import demo_workspace, serious_violations

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
PAGES = ("/console/", "/console/users", "/console/usage", "/console/me/keys", "/console/account")
VARIANTS = [(1440, "light"), (390, "dark")]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("width", "theme"), VARIANTS, ids=[f"{w}-{t}" for w, t in VARIANTS])
async def test_the_switch_turns_the_console_chinese_and_axe_passes(
    site: Site, new_page: NewPage, width: int, theme: str
) -> None:
    await demo_workspace(site, days=3, volume=0.02)
    page = await new_page(width=width, height=900, color_scheme=theme, bypass_csp=True)
    await sign_in(page, site.owner_email)
    await page.goto("/console/users")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.locator("#lang-zh_CN").click()
    await expect(page).to_have_url(f"{site.url}/console/users")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("h1")).to_have_text("用户")
    # the script-written label of the theme button is Chinese too
    label = "浅色模式" if theme == "dark" else "深色模式"
    await expect(page.locator("#theme-toggle")).to_have_text(label)
    problems: list[str] = []
    for path in PAGES:
        response = await page.goto(path)
        assert response is not None
        assert response.status < 400, path
        await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        await page.wait_for_load_state("networkidle")
        problems += await serious_violations(page)
    assert not problems, "\n".join(problems)
    await page.locator("#language-switch a[lang=en]").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_a_chinese_browser_gets_the_chinese_sign_in_page(
    site: Site, new_page: NewPage
) -> None:
    page = await new_page(locale="zh-CN")
    await page.goto("/console/login")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.get_by_label("邮箱").fill(site.owner_email)
    await page.get_by_label("密码").fill("wrong password, on purpose")
    await page.locator("#sign-in").click()
    await expect(page.locator("#login-error")).to_be_visible()
