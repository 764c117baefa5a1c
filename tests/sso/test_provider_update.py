"""Editing a provider (REST API and console): only the fields sent change, a new client secret
is sealed and never returned, settings are checked as when adding, owners only, audited
without the secret; a disabled provider signs nobody in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select
from tests.console.conftest import Browser
from tests.fakes.oidc import CLIENT_SECRET, FakeIdp

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users.sso import service as sso_service
from spectra.users.sso.models import SsoProvider

from .conftest import OWNER
from .test_providers import _token

NEW_SECRET = "rotated-client-secret-9876"
OpenBrowser = Callable[..., Awaitable[Browser]]


async def _row(runtime: Runtime) -> SsoProvider:
    async with session_scope(runtime.db) as session:
        return (await session.execute(select(SsoProvider))).scalar_one()


async def test_a_new_secret_is_sealed_and_other_settings_stay(
    runtime: Runtime, client: httpx.AsyncClient, provider: SsoProvider
) -> None:
    headers = await _token(runtime)
    response = await client.patch(
        "/api/sso/providers/Acme",
        json={"client_secret": NEW_SECRET, "allowed_domains": ["example.org", "@Example.com"]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert NEW_SECRET not in response.text
    assert body["client_secret_last4"] == "9876"
    assert body["allowed_domains"] == ["example.org", "example.com"]
    assert body["client_id"] == provider.client_id
    assert body["group_mappings"] == [
        {"claim": "spectra-admins", "group": None, "role": "admin"},
        {"claim": "spectra-devs", "group": "Platform", "role": "member"},
    ]
    row = await _row(runtime)
    assert NEW_SECRET not in row.client_secret_ciphertext
    assert sso_service.unseal_secret(row) == NEW_SECRET
    async with session_scope(runtime.db) as session:
        event = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "sso.provider_update")
            )
        ).scalar_one()
    everything = str(event.before) + str(event.after) + str(event.details)
    assert NEW_SECRET not in everything
    assert CLIENT_SECRET not in everything
    assert event.after is not None
    assert event.after["new_client_key_ending"] == "9876"
    assert event.before == {"allowed_domains": ["example.com"]}


async def test_bad_settings_are_refused_and_nothing_changes(
    runtime: Runtime, client: httpx.AsyncClient, provider: SsoProvider
) -> None:
    headers = await _token(runtime)
    for body, field in (
        ({"issuer": "http://idp.example.com"}, "issuer"),
        ({"scopes": ["email"]}, "scopes"),
        ({"require_sso": True}, "break_glass_owner"),
        ({"groups_claim": None}, "groups_claim"),
        ({"break_glass_owner": "nobody@example.com"}, "break_glass_owner"),
        ({"group_mappings": [{"claim": "x", "group": "Nope"}]}, "group_mappings"),
    ):
        response = await client.patch("/api/sso/providers/Acme", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "sso_setting_invalid"
        assert response.json()["error"]["details"]["field"] == field
    row = await _row(runtime)
    assert (row.issuer, row.groups_claim, row.require_sso) == (provider.issuer, "groups", False)
    assert sso_service.unseal_secret(row) == CLIENT_SECRET


async def test_owners_only_and_an_unknown_provider_is_404(
    runtime: Runtime, client: httpx.AsyncClient, provider: SsoProvider
) -> None:
    admin = await client.patch(
        "/api/sso/providers/Acme",
        json={"client_id": "other"},
        headers=await _token(runtime, "admin"),
    )
    assert admin.status_code == 403
    missing = await client.patch(
        "/api/sso/providers/Nope", json={"client_id": "x"}, headers=await _token(runtime)
    )
    assert missing.status_code == 404
    assert (await _row(runtime)).client_id == provider.client_id


async def test_require_sso_with_a_break_glass_owner_then_disable(
    runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
) -> None:
    headers = await _token(runtime)
    response = await client.patch(
        "/api/sso/providers/Acme",
        json={"require_sso": True, "break_glass_owner": OWNER, "session_ttl_minutes": 60},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["require_sso"] is True
    assert response.json()["session_ttl_minutes"] == 60
    # The break-glass owner cannot be cleared while SSO is required.
    cleared = await client.patch(
        "/api/sso/providers/Acme", json={"break_glass_owner": None}, headers=headers
    )
    assert cleared.status_code == 422
    off = await client.patch(
        "/api/sso/providers/Acme",
        json={"require_sso": False, "is_enabled": False},
        headers=headers,
    )
    assert off.status_code == 200, off.text
    assert "Sign in with Acme" not in (await client.get("/console/login")).text
    assert (await client.get("/console/sso/Acme/start")).status_code != 303


async def test_the_console_edit_form_keeps_the_secret_when_left_empty(
    runtime: Runtime, provider: SsoProvider, browser: OpenBrowser
) -> None:
    owner_browser = await browser(role="owner", email="second-owner@example.com")
    page = await owner_browser.get("/console/sso-providers/Acme")
    assert page.status_code == 200
    assert 'id="sso-edit"' in page.text
    assert CLIENT_SECRET not in page.text
    saved = await owner_browser.post_form(
        "/console/sso-providers/Acme/edit",
        {
            "issuer": provider.issuer,
            "client_id": "new-client-id",
            "client_secret": "",
            "scopes": "openid, email",
            "allowed_domains": "example.com",
            "groups_claim": "groups",
            "group_mappings": "spectra-admins=:admin",
            "break_glass_owner": "",
            "is_enabled": "on",
            "session_ttl_minutes": "",
        },
    )
    assert saved.status_code == 303, saved.text
    assert "Saved" in (await owner_browser.get(saved.headers["location"])).text
    row = await _row(runtime)
    assert (row.client_id, row.scopes) == ("new-client-id", ["openid", "email"])
    assert row.group_mappings == [{"claim": "spectra-admins", "group": None, "role": "admin"}]
    assert sso_service.unseal_secret(row) == CLIENT_SECRET
