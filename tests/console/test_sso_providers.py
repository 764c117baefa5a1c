"""SSO provider pages: an owner adds, sees, tests and removes a provider through the forms; an
admin reads but cannot add; bad input is a clear message and nothing is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from tests.fakes.oidc import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeIdp

from spectra.users.sso import oidc

from .conftest import Browser


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    fake = FakeIdp()
    oidc.use_transport(fake.transport())
    yield fake
    oidc.use_transport(None)


FORM = {
    "name": "Okta",
    "issuer": ISSUER,
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "scopes": "openid, email, profile, groups",
    "allowed_domains": "example.com",
    "groups_claim": "groups",
    "group_mappings": "spectra-admins=:admin",
}


async def test_an_owner_adds_tests_and_removes_a_provider(
    browser: Callable[..., Awaitable[Browser]], idp: FakeIdp
) -> None:
    owner = await browser(role="owner")
    added = await owner.post_form("/console/sso-providers", FORM)
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/console/sso-providers/Okta"
    page = await owner.get("/console/sso-providers/Okta")
    assert "/console/sso/Okta/callback" in page.text
    assert CLIENT_SECRET not in page.text
    assert "spectra-admins → (home group) / admin" in page.text
    tested = await owner.post_form("/console/sso-providers/Okta/test")
    assert tested.status_code == 200
    assert "Discovery and key set fetched: 1 signing key(s)." in tested.text
    listing = await owner.get("/console/sso-providers")
    assert 'href="/console/sso-providers/Okta"' in listing.text
    login = await owner.client.get("/console/login")
    assert "Sign in with Okta" in login.text
    removed = await owner.post_form("/console/sso-providers/Okta/remove")
    assert removed.status_code == 303
    assert "No provider yet." in (await owner.get("/console/sso-providers")).text


async def test_an_admin_reads_but_cannot_add(
    browser: Callable[..., Awaitable[Browser]], idp: FakeIdp
) -> None:
    admin = await browser(role="admin")
    page = await admin.get("/console/sso-providers")
    assert page.status_code == 200
    assert "Only an owner adds providers." in page.text
    refused = await admin.post_form("/console/sso-providers", FORM, follow_redirects=True)
    assert "cannot change workspace settings" in refused.text
    assert "No provider yet." in (await admin.get("/console/sso-providers")).text


async def test_bad_input_is_a_message_and_nothing_is_written(
    browser: Callable[..., Awaitable[Browser]], idp: FakeIdp
) -> None:
    owner = await browser(role="owner")
    for overrides, sentence in [
        ({"issuer": "http://idp.example.com"}, "must use https"),
        ({"group_mappings": "nonsense"}, "A group mapping is IDP_GROUP=GROUP:ROLE"),
        ({"name": ""}, "The provider was not added"),
    ]:
        response = await owner.post_form(
            "/console/sso-providers", {**FORM, **overrides}, follow_redirects=True
        )
        assert sentence in response.text, overrides
    assert "No provider yet." in (await owner.get("/console/sso-providers")).text
