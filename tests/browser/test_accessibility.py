"""axe-core on every console page (owner; desktop 1440 and phone 390 wide; light and dark): no
serious or critical violation. And a form works with the keyboard alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from .conftest import Site, sign_in
from .console_pages import demo_workspace, every_page, serious_violations

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
VARIANTS = [(1440, "light"), (1440, "dark"), (390, "light"), (390, "dark")]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize(("width", "theme"), VARIANTS, ids=[f"{w}-{t}" for w, t in VARIANTS])
async def test_every_page_passes_axe(site: Site, new_page: NewPage, width: int, theme: str) -> None:
    await demo_workspace(site, days=3, volume=0.02)
    page = await new_page(width=width, height=900, color_scheme=theme, bypass_csp=True)
    await sign_in(page, site.owner_email)
    problems: list[str] = []
    for path in await every_page(page):
        response = await page.goto(path)
        assert response is not None
        assert response.status < 400, path
        await page.wait_for_load_state("networkidle")
        problems += await serious_violations(page)
    assert not problems, "\n".join(problems)


async def test_a_form_works_with_the_keyboard_alone(site: Site, new_page: NewPage) -> None:
    page = await new_page()
    await sign_in(page, site.owner_email)
    await page.goto("/console/groups")
    for _ in range(150):  # Tab from the top of the page until the form's first field
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == "f-name":
            break
    else:
        pytest.fail("Tab never reached the group form's name field")
    await page.keyboard.type("Keyboard")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.closest('form')?.id")
    assert focused == "create-group-form"  # the next field is in the same form
    await page.keyboard.type("Made without a mouse")
    await page.keyboard.press("Enter")
    await expect(page.locator("#flash.ok")).to_be_visible()
    await page.goto("/console/groups")
    await expect(page.locator("main")).to_contain_text("Keyboard")
