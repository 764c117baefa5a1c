"""Browser fixtures: Spectra served on a real local port (uvicorn in the test's event loop, on the
worker's test database) with the demo upstream, and headless Debian Chromium driven by Playwright.

Screenshots go to test-artifacts/screenshots/ (git-ignored; CI keeps them as artefacts). Waits are
Playwright's own (locators and `expect`), never sleeps.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Response,
    async_playwright,
    expect,
)
from tests.gateway.world import serve

from spectra.app import create_app
from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.demo.upstream import DemoUpstream
from spectra.gateway import wiring as gateway_wiring
from spectra.runtime import Runtime
from spectra.usage.jobs import run_rollups
from spectra.users import service as users_service

CHROMIUM = os.environ.get("SPECTRA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
OWNER_EMAIL = "owner@browser.test"
PASSWORD = "correct horse battery"
TIMEOUT_MS = 45_000  # generous: CI machines and a loaded laptop hash passwords slowly

expect.set_options(timeout=TIMEOUT_MS)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium per test worker."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once per worker)
        if os.environ.get("CI") == "true":
            raise pytest.UsageError(
                f"{CHROMIUM} is missing; .ci/run installs the chromium package."
            )
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


SUBRESOURCES = frozenset({"image", "stylesheet", "script", "font", "media", "manifest", "other"})
"""What a page loads by itself; a 404 among them fails the test (a page the test visits, or a
request htmx makes, may answer 404 on purpose)."""


@dataclass
class Site:
    """Spectra on a real port, with the demo upstream; `owner` can sign in with PASSWORD."""

    url: str
    runtime: Runtime
    upstream: DemoUpstream
    owner_email: str = OWNER_EMAIL
    contexts: list[BrowserContext] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    """Confirmation questions the pages asked (each accepted, as a person clicking OK)."""
    missing: list[str] = field(default_factory=list)
    """Resources a page asked for that answered 404 (a missing icon, script or stylesheet)."""
    console_errors: list[str] = field(default_factory=list)
    """Errors a page wrote to the browser console (a script error, a CSP violation): each fails
    the test. "Failed to load resource" is not among them: a page or an htmx request may answer
    4xx on purpose, and a missing asset is already in `missing`."""

    async def settle(self) -> None:
        """Commit every pending settlement, roll usage up, and let caches catch up."""
        gateway = gateway_wiring.current()
        if gateway is not None:
            await gateway.settler.flush()
        await self.runtime.committer.flush()
        await run_rollups(self.runtime.db, lag=timedelta(0))
        await self.runtime.feed.poll_once()

    async def add_user(
        self, email: str, *, role: str = "member", group: str | None = None
    ) -> uuid.UUID:
        async with session_scope(self.runtime.db) as session:
            user = await users_service.create_user(
                session,
                local_actor(),
                email=email,
                name=email.split("@")[0].title(),
                role=role,
                group=group,
            )
            await users_service.set_password(
                session, local_actor(), user=user.id, password=PASSWORD
            )
            user_id = user.id
        await self.runtime.feed.poll_once()
        return user_id

    async def gateway(self, secret: str, *, model: str = "claude-sonnet-4-5") -> httpx.Response:
        """One Claude-Code-shaped request through the gateway, as a member's tool would send it."""
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            return await client.post(
                "/v1/messages",
                headers={
                    "x-api-key": secret,
                    "anthropic-version": "2023-06-01",
                    "user-agent": "claude-cli/2.0.14 (external, cli)",
                },
                json={
                    "model": model,
                    "max_tokens": 1024,
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[DemoUpstream]:
    async with DemoUpstream() as up:
        yield up


@pytest_asyncio.fixture
async def site(runtime: Runtime, upstream: DemoUpstream) -> AsyncIterator[Site]:
    app = create_app(runtime)
    async with serve(app) as url:
        served = Site(url=url, runtime=runtime, upstream=upstream)
        await served.add_user(OWNER_EMAIL, role="owner")
        try:
            yield served
        finally:
            for context in served.contexts:
                await context.close()


@pytest_asyncio.fixture
async def new_page(browser: Browser, site: Site, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """`await new_page()`: a page in a fresh browser context (its own cookies: one person each).
    On failure, every open page is screenshotted under the test's name."""

    pages: list[Page] = []

    async def make(*, width: int = 1280, height: int = 860, **options: Any) -> Page:
        """`options` go to the browser context (`color_scheme="dark"`, `bypass_csp=True`)."""
        context = await browser.new_context(
            base_url=site.url, viewport={"width": width, "height": height}, **options
        )
        context.set_default_timeout(TIMEOUT_MS)
        site.contexts.append(context)
        page = await context.new_page()

        async def confirm(dialog: Dialog) -> None:
            site.dialogs.append(dialog.message)
            await dialog.accept()

        def note(response: Response) -> None:
            if response.status == 404 and response.request.resource_type in SUBRESOURCES:
                site.missing.append(response.url)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                site.console_errors.append(f"{page.url}: {message.text}")

        page.on("dialog", confirm)
        page.on("response", note)
        page.on("console", console)
        page.on("pageerror", lambda error: site.console_errors.append(f"{page.url}: {error}"))
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for number, page in enumerate(pages):
            await shot(page, f"FAILED-{request.node.name}-{number}")
    elif report is not None:
        assert not site.missing, f"pages asked for resources that are not there: {site.missing}"
        assert not site.console_errors, "console errors:\n" + "\n".join(site.console_errors)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


async def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form and wait until the console has answered."""
    await page.goto("/console/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.locator("#sign-in").click()
    await expect(page.locator("#login-form")).to_have_count(0)
