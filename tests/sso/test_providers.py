"""Provider settings through the REST API with real tokens: the client secret sealed at rest
and never returned, validation with stable codes, owners only, audit in the same transaction;
`test` fetches discovery and the key set."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from tests.factories import make_user
from tests.fakes.oidc import CLIENT_SECRET, ISSUER, FakeIdp

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime
from spectra.users.models import User
from spectra.users.sso import service as sso_service
from spectra.users.sso.models import SsoProvider

from .conftest import OWNER, acme


async def _token(runtime: Runtime, role: str = "owner") -> dict[str, str]:
    async with session_scope(runtime.db) as session:
        user = (
            await make_user(session, role=role)
            if role != "owner"
            else await make_user(session, role="owner", email=f"second-{OWNER}")
        )
        _, secret = await keys_service.create_token(session, local_actor(), user_id=user.id)
    return {"authorization": f"Bearer {secret}"}


def _body(**overrides: Any) -> dict[str, Any]:
    return acme(**overrides).model_dump(mode="json")


class TestAddProvider:
    async def test_seals_the_secret_and_never_returns_it(
        self, runtime: Runtime, client: httpx.AsyncClient, owner: User
    ) -> None:
        headers = await _token(runtime)
        response = await client.post("/api/sso/providers", json=_body(), headers=headers)
        assert response.status_code == 201, response.text
        assert CLIENT_SECRET not in response.text
        assert response.json()["client_secret_last4"] == CLIENT_SECRET[-4:]
        listed = await client.get("/api/sso/providers", headers=headers)
        assert [p["name"] for p in listed.json()["items"]] == ["Acme"]
        assert CLIENT_SECRET not in listed.text
        async with session_scope(runtime.db) as session:
            row = (await session.execute(select(SsoProvider))).scalar_one()
            assert CLIENT_SECRET not in row.client_secret_ciphertext
            assert sso_service.unseal_secret(row) == CLIENT_SECRET
            event = (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "sso.provider_add")
                )
            ).scalar_one()
        assert event.target_label == "Acme"
        assert CLIENT_SECRET not in str(event.details) + str(event.after)

    async def test_an_admin_may_not_add_one(
        self, runtime: Runtime, client: httpx.AsyncClient, owner: User
    ) -> None:
        response = await client.post(
            "/api/sso/providers", json=_body(), headers=await _token(runtime, "admin")
        )
        assert response.status_code == 403
        assert (await client.get("/api/sso/providers", headers=await _token(runtime))).json()[
            "items"
        ] == []

    async def test_a_second_provider_with_the_same_name_is_a_conflict(
        self, runtime: Runtime, client: httpx.AsyncClient, owner: User
    ) -> None:
        headers = await _token(runtime)
        await client.post("/api/sso/providers", json=_body(), headers=headers)
        again = await client.post("/api/sso/providers", json=_body(name="ACME"), headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "sso_provider_name_taken"

    async def test_bad_settings_are_refused_with_a_stable_code_and_nothing_written(
        self, runtime: Runtime, client: httpx.AsyncClient, owner: User
    ) -> None:
        headers = await _token(runtime)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"issuer": "http://idp.example.com"}, "must use https"),
            ({"issuer": "not a url"}, "is not an issuer URL"),
            ({"scopes": ["email"]}, "must include 'openid'"),
            ({"allowed_domains": ["not a domain"]}, "is not an email domain"),
            ({"group_mappings": [{"claim": "x", "group": "Nowhere"}]}, "No group 'Nowhere'"),
            ({"group_mappings": [{"claim": "x", "role": "emperor"}]}, "'emperor' is not a role"),
            ({"require_sso": True}, "named break-glass owner"),
            (
                {"require_sso": True, "break_glass_owner": "nobody@example.com"},
                "not an active owner",
            ),
        ]
        for overrides, sentence in cases:
            response = await client.post(
                "/api/sso/providers", json=_body(**overrides), headers=headers
            )
            assert response.status_code == 422, (overrides, response.text)
            assert response.json()["error"]["code"] == "sso_setting_invalid"
            assert sentence in response.json()["error"]["message"]
        assert (await client.get("/api/sso/providers", headers=headers)).json()["items"] == []

    async def test_require_sso_with_a_break_glass_owner(
        self, runtime: Runtime, client: httpx.AsyncClient, owner: User
    ) -> None:
        response = await client.post(
            "/api/sso/providers",
            json=_body(require_sso=True, break_glass_owner=OWNER),
            headers=await _token(runtime),
        )
        assert response.status_code == 201, response.text
        assert response.json()["break_glass_user_id"] == str(owner.id)


class TestTestProvider:
    async def test_reports_discovery_and_keys(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        response = await client.post("/api/sso/providers/Acme/test", headers=await _token(runtime))
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is True
        assert body["key_ids"] == ["k1"]
        assert body["token_endpoint"] == f"{ISSUER}/token"
        assert body["end_session_endpoint"] == f"{ISSUER}/session/end"
        assert body["supports_pkce_s256"] is True

    async def test_reports_an_unreachable_provider(
        self, runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
    ) -> None:
        async with session_scope(runtime.db) as session:
            row = await session.get(SsoProvider, provider.id)
            assert row is not None
            row.issuer = "https://idp.example.test/elsewhere"
        response = await client.post("/api/sso/providers/Acme/test", headers=await _token(runtime))
        body = response.json()
        assert body["ok"] is False
        assert "answered HTTP 404" in body["message"]

    async def test_an_unknown_provider_is_404(
        self, runtime: Runtime, client: httpx.AsyncClient, owner: User
    ) -> None:
        response = await client.post("/api/sso/providers/Nope/test", headers=await _token(runtime))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "sso_provider_not_found"


class TestRemoveProvider:
    async def test_removes_and_audits(
        self, runtime: Runtime, client: httpx.AsyncClient, provider: SsoProvider
    ) -> None:
        headers = await _token(runtime)
        assert (await client.delete("/api/sso/providers/acme", headers=headers)).status_code == 204
        assert (await client.get("/api/sso/providers", headers=headers)).json()["items"] == []
        async with session_scope(runtime.db) as session:
            actions = (
                (
                    await session.execute(
                        select(AuditEvent.action).where(AuditEvent.target_type == "sso_provider")
                    )
                )
                .scalars()
                .all()
            )
        assert sorted(actions) == ["sso.provider_add", "sso.provider_remove"]
