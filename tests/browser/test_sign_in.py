"""Signing in to the console in a real browser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from .conftest import OWNER_EMAIL, Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


class TestSignIn:
    async def test_a_wrong_password_is_refused_next_to_the_form(
        self, site: Site, new_page: NewPage
    ) -> None:
        page = await new_page()
        await page.goto("/console/login")
        await page.get_by_label("Email").fill(OWNER_EMAIL)
        await page.get_by_label("Password").fill("not the password at all")
        await page.locator("#sign-in").click()

        await expect(page.locator("#login-error")).to_be_visible()
        await expect(page.get_by_label("Email")).to_have_value(OWNER_EMAIL)

    async def test_the_owner_signs_in_and_reaches_the_admin_pages(
        self, site: Site, new_page: NewPage
    ) -> None:
        page = await new_page()
        await sign_in(page, OWNER_EMAIL)
        await page.goto("/console/users")

        await expect(page.locator("#users")).to_contain_text(OWNER_EMAIL)
        await shot(page, "sign-in-users")

    async def test_a_page_needs_a_session(self, site: Site, new_page: NewPage) -> None:
        page = await new_page()
        await page.goto("/console/users")

        await expect(page.locator("#login-form")).to_be_visible()
        assert "/console/login" in page.url
