"""The console's Content-Security-Policy holds in a real browser: the main pages load their
scripts, styles and charts with no violation reported and no script error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import ConsoleMessage, Page

from .conftest import OWNER_EMAIL, Site, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]

MAIN_PAGES = (
    "/console/",
    "/console/users",
    "/console/groups",
    "/console/pool",
    "/console/packages",
    "/console/ledger",
    "/console/recharges",
    "/console/codes",
    "/console/usage",
    "/console/usage/economics",
    "/console/usage/forecast",
    "/console/prices",
    "/console/policy",
    "/console/rollouts",
    "/console/audit",
    "/console/settings",
    "/console/me",
    "/console/me/keys",
    "/console/me/tokens",
    "/console/me/wallet",
    "/console/account",
)


async def test_the_main_pages_report_no_csp_violation(site: Site, new_page: NewPage) -> None:
    page = await new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    await sign_in(page, OWNER_EMAIL)
    for path in MAIN_PAGES:
        response = await page.goto(path)
        assert response is not None
        assert response.status < 400, path
        assert "frame-ancestors 'none'" in (response.headers.get("content-security-policy") or "")
        await page.wait_for_load_state("networkidle")
    assert not problems, "\n".join(problems)
