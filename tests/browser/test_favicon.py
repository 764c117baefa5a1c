"""Every console page names a vendored favicon, and /favicon.ico (asked for by pages without
an icon link, such as /api/docs) leads to it: no 404 in the browser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from .conftest import Site

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


async def test_the_console_has_a_favicon(site: Site, new_page: NewPage) -> None:
    page = await new_page()
    await page.goto("/console/login")
    icon = page.locator('link[rel="icon"]')
    await expect(icon).to_have_attribute("href", "/console/static/favicon.svg")

    linked = await page.evaluate(
        "async () => { const r = await fetch(document.querySelector('link[rel=icon]').href);"
        " return [r.status, r.headers.get('content-type'), (await r.text()).slice(0, 4)]; }"
    )
    legacy = await page.evaluate(
        "async () => { const r = await fetch('/favicon.ico');"
        " return [r.status, r.redirected, new URL(r.url).pathname]; }"
    )

    assert linked == [200, "image/svg+xml", "<svg"]
    assert legacy == [200, True, "/console/static/favicon.svg"]
