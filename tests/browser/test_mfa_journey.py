"""Second factors in a real browser: a member enrols an authenticator app from the QR-code page
(codes computed with pyotp from the key the page shows), signs out, and signs in again with
the password and then the code; a recovery code works once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pyotp
import pytest
from playwright.async_api import Page, expect

from spectra.kit.clock import utc_now

from .conftest import PASSWORD, Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


def _code(seed: str, steps: int = 0) -> str:
    return pyotp.TOTP(seed).at(utc_now() + timedelta(seconds=30 * steps))


async def _password(page: Page, email: str) -> None:
    await page.goto("/console/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.locator("#sign-in").click()
    await expect(page.locator("#second-factor-form")).to_be_visible()


async def test_enrol_an_app_then_sign_in_with_its_code(site: Site, new_page: NewPage) -> None:
    email = "grace@example.com"
    await site.add_user(email)
    page = await new_page()
    await sign_in(page, email)
    await page.goto("/console/account")
    await page.locator("#second-factors-link").click()
    await page.locator("#enrol-totp").click()
    await expect(page.locator("#totp-qr svg")).to_be_visible()
    seed = (await page.locator("#totp-secret").inner_text()).strip()
    await shot(page, "mfa-enrol-qr")
    await page.get_by_label("Code from the app").fill(_code(seed))
    await page.locator("#confirm-totp").click()
    await expect(page.locator("#totp-enrolled")).to_be_visible()
    codes = [c.strip() for c in await page.locator("#recovery-codes code").all_inner_texts()]
    assert len(codes) == 10
    await page.locator("#sign-out").click()
    await expect(page.locator("#login-form")).to_be_visible()

    await _password(page, email)
    await page.get_by_label("Code from your authenticator app, or a recovery code").fill("000000")
    await page.locator("#verify-code").click()
    await expect(page.locator("#second-factor-error")).to_be_visible()
    # The code of the next step: never the one the enrolment just spent, whatever the timing.
    await page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        _code(seed, 1)
    )
    await page.locator("#verify-code").click()
    await expect(page.locator("#my-balance")).to_be_visible()
    await page.locator("#sign-out").click()

    await _password(page, email)
    await page.get_by_label("Code from your authenticator app, or a recovery code").fill(codes[0])
    await page.locator("#verify-code").click()
    await expect(page.locator("#my-balance")).to_be_visible()
    await page.locator("#sign-out").click()

    await _password(page, email)
    await page.get_by_label("Code from your authenticator app, or a recovery code").fill(codes[0])
    await page.locator("#verify-code").click()
    await expect(page.locator("#second-factor-error")).to_contain_text("used already")
