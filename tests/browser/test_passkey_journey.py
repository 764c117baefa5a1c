"""Passkeys in a real browser, with Chromium's virtual authenticator (DevTools protocol:
WebAuthn.enable / WebAuthn.addVirtualAuthenticator): a member registers a passkey, then signs
in with it alone (passwordless, a discoverable credential), with it as the second step after
the password, and confirms a sensitive action with it (step-up). A captured passkey response
cannot be replayed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Page, Request, expect
from sqlalchemy import select, update

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.kit.clock import utc_now
from spectra.users.mfa.models import Passkey
from spectra.users.models import UserSession

from .conftest import PASSWORD, Site, shot

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


async def _virtual_authenticator(page: Page) -> None:
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


async def test_register_a_passkey_then_sign_in_with_it(site: Site, new_page: NewPage) -> None:
    # WebAuthn needs a domain name (an IP address is no relying party id): browse to localhost.
    base = site.url.replace("127.0.0.1", "localhost")
    email = "hedy@example.com"
    await site.add_user(email)
    page = await new_page()
    await _virtual_authenticator(page)

    await page.goto(f"{base}/console/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.locator("#sign-in").click()
    await expect(page.locator("#my-balance")).to_be_visible()
    await page.goto(f"{base}/console/account/mfa")
    await page.get_by_label("Passkey name").fill("Laptop")
    await page.locator("#add-passkey").click()
    await expect(page.locator("#passkeys")).to_contain_text("Laptop")
    await shot(page, "passkey-registered")
    async with session_scope(site.runtime.db) as session:
        stored = (await session.execute(select(Passkey))).scalar_one()
    assert stored.name == "Laptop"
    await page.locator("#sign-out").click()

    # Passwordless: the discoverable credential says who signs in.
    assertions: list[Request] = []
    page.on(
        "request",
        lambda r: assertions.append(r) if r.url.endswith("/console/login/passkey") else None,
    )
    await page.goto(f"{base}/console/login")
    await page.locator("#passkey-sign-in").click()
    await expect(page.locator("#my-balance")).to_be_visible()
    await expect(page.locator(".who")).to_contain_text(email)
    await page.locator("#sign-out").click()

    # The captured response, sent again, finds its challenge spent.
    captured = assertions[0].post_data
    assert captured is not None
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        replay = await client.post(
            "/console/login/passkey",
            content=captured,
            headers={"content-type": "application/json", "origin": base},
        )
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "passkey_invalid"
    assert "spectra_session" not in replay.cookies

    # With a passkey, a password sign-in asks for it as the second step.
    await page.goto(f"{base}/console/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.locator("#sign-in").click()
    await expect(page.locator("#use-passkey")).to_be_visible()
    await page.locator("#use-passkey").click()
    await expect(page.locator("#my-balance")).to_be_visible()

    # Step-up with the passkey: the sign-in is made to look 30 minutes old.
    async with session_scope(site.runtime.db) as session:
        await session.execute(
            update(UserSession).values(authenticated_at=utc_now() - timedelta(minutes=30))
        )
    await page.goto(f"{base}/console/me/tokens")
    await page.get_by_label("Name").fill("ci")
    await page.locator("#create-token").click()
    await expect(page.locator("#step-up-required")).to_be_visible()
    await page.locator("#confirm-identity").click()
    await page.locator("#use-passkey").click()
    await page.wait_for_url(f"{base}/console/me/tokens")
    await page.get_by_label("Name").fill("ci")
    await page.locator("#create-token").click()
    await expect(page.locator("#new-token-secret")).to_be_visible()

    async with session_scope(site.runtime.db) as session:
        methods = [
            (e.details or {}).get("method")
            for e in (
                await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.sign_in"))
            ).scalars()
        ]
    assert "passkey" in methods
    assert "password+passkey" in methods
    async with session_scope(site.runtime.db) as session:
        step_ups = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.step_up")))
            .scalars()
            .all()
        )
    assert [(e.details or {}).get("method") for e in step_ups] == ["passkey"]
    assert json.loads(captured)["credential"]["id"] == stored.credential_id
