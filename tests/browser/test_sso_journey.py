"""Single sign-on in a real browser against a real OpenID provider (`oidc-provider`): the
console's button, the provider's login and consent pages, the callback, and the console with
the role the IdP group maps to; then sign-out through the provider's end-session page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect
from tests.cli.conftest import free_port
from tests.sso.real_idp import real_idp

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.users import repository as users_repository
from spectra.users.sso import service as sso_service
from spectra.users.sso.schemas import GroupMapping, ProviderCreate

from .conftest import Site, shot


async def test_sign_in_with_oidc_provider_lands_in_the_console_with_the_mapped_role(
    site: Site,
    new_page: Callable[..., Awaitable[Page]],
    tmp_path: Path,
) -> None:
    site.runtime.settings.public_url = site.url
    claims = {
        "sub": "ada-1815",
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
        "groups": ["spectra-admins", "everyone"],
    }
    with real_idp(
        tmp_path,
        port=free_port(),
        redirect_uri=f"{site.url}/console/sso/Keycloak/callback",
        post_logout_uri=f"{site.url}/console/login",
        claims=claims,
    ) as idp:
        async with session_scope(site.runtime.db) as session:
            await sso_service.add_provider(
                session,
                local_actor(),
                data=ProviderCreate(
                    name="Keycloak",
                    issuer=idp.issuer,
                    client_id=idp.client_id,
                    client_secret=idp.client_secret,
                    scopes=["openid", "email", "profile", "groups"],
                    allowed_domains=["example.com"],
                    groups_claim="groups",
                    group_mappings=[GroupMapping(claim="spectra-admins", role="admin")],
                ),
            )
        page = await new_page()
        await page.goto("/console/login")
        await page.get_by_role("link", name="Sign in with Keycloak").click()
        await expect(page.locator("input[name=login]")).to_be_visible()
        assert page.url.startswith(idp.issuer)
        await page.locator("input[name=login]").fill(idp.login)
        await page.locator("input[name=password]").fill("anything at all")
        await page.get_by_role("button", name="Sign-in").click()
        await expect(page.get_by_role("button", name="Continue")).to_be_visible()
        await page.get_by_role("button", name="Continue").click()
        await expect(page.locator(".who .badge")).to_have_text("admin")
        assert page.url == f"{site.url}/console/"
        await expect(page.locator(".who")).to_contain_text("ada@example.com")
        await shot(page, "sso-signed-in")
        async with session_scope(site.runtime.db) as session:
            user = await users_repository.find_user_by_email(session, "ada@example.com")
            assert user is not None
            assert (user.role, user.name, user.password_hash) == ("admin", "Ada Lovelace", None)

        await page.locator("#sign-out").click()
        await page.wait_for_url(f"{idp.issuer}/**")
        # oidc-provider asks to confirm signing out of the provider too.
        await page.get_by_role("button", name="Yes, sign me out").click()
        await page.wait_for_url(f"{site.url}/console/login**")
        await page.goto("/console/")
        await expect(page.locator("#login-form")).to_be_visible()
