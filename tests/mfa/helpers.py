"""Enrol an authenticator app through the console, the way a person does, codes from pyotp."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
from tests.console.conftest import PASSWORD, Browser, csrf_of

from spectra.kit.clock import utc_now


def code_at(seed: str, *, steps: int = 0) -> str:
    return pyotp.TOTP(seed).at(utc_now() + timedelta(seconds=30 * steps))


async def enrol_totp(browser: Browser) -> tuple[str, list[str]]:
    """Enrol through the console pages; the seed (from the page) and the recovery codes."""
    page = await browser.post_form("/console/account/mfa/totp")
    assert page.status_code == 200, page.text
    assert "<svg" in page.text
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert found
    seed = found.group(1)
    done = await browser.post_form("/console/account/mfa/totp/confirm", {"code": code_at(seed)})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    return seed, codes


async def password_step(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post("/console/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return response


async def code_step(
    client: httpx.AsyncClient, code: str, next: str = "/console/"
) -> httpx.Response:
    return await client.post("/console/login/second-factor", data={"code": code, "next": next})


async def fresh_csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/account")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
