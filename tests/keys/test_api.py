from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from spectra.audit.actor import Actor, local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.keys.models import MemberKey
from spectra.runtime import Runtime
from spectra.users.models import User

from .factories import actor_for, make_admin, make_key, make_member

ActAs = Callable[[Actor], None]


async def users(runtime: Runtime, *roles: str) -> list[User]:
    async with session_scope(runtime.db) as session:
        return [
            await (make_admin if role == "admin" else make_member)(session, role=role)
            for role in roles
        ]


def error_code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["error"]["code"])


class TestKeysApi:
    async def test_a_member_creates_lists_and_revokes_their_key(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (member,) = await users(runtime, "member")
        act_as(actor_for(member))
        created = await client.post("/api/keys", json={"name": "laptop", "scopes": ["claude-*"]})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"].startswith("sk-spectra-")
        assert body["status"] == "active"
        assert body["user_email"] == member.email
        listed = (await client.get("/api/keys")).json()
        assert [k["id"] for k in listed["items"]] == [body["id"]]
        assert "secret" not in listed["items"][0]
        assert "hash" not in listed["items"][0]
        assert listed["next_cursor"] is None
        one = await client.get(f"/api/keys/{body['id']}")
        assert one.status_code == 200
        assert "secret" not in one.json()
        revoked = await client.post(f"/api/keys/{body['id']}/revoke", json={"reason": "done"})
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"
        async with session_scope(runtime.db) as session:
            actions = (
                (await session.execute(select(AuditEvent.action).order_by(AuditEvent.id)))
                .scalars()
                .all()
            )
        assert list(actions) == ["keys.create", "keys.revoke"]

    async def test_rotate_returns_a_new_secret_and_patch_changes_fields(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (admin, member) = await users(runtime, "admin", "member")
        act_as(actor_for(admin))
        created = (await client.post("/api/keys", json={"user_email": member.email})).json()
        rotated = await client.post(f"/api/keys/{created['id']}/rotate", json={"grace_hours": 1})
        assert rotated.status_code == 201
        assert rotated.json()["secret"] != created["secret"]
        assert rotated.json()["rotated_from_id"] == created["id"]
        patched = await client.patch(
            f"/api/keys/{rotated.json()['id']}", json={"name": "ci", "ip_allowlist": ["10.0.0.0/8"]}
        )
        assert patched.status_code == 200
        assert (patched.json()["name"], patched.json()["ip_allowlist"]) == ("ci", ["10.0.0.0/8"])

    async def test_a_malformed_cidr_is_a_422_with_a_stable_code(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (member,) = await users(runtime, "member")
        act_as(actor_for(member))
        response = await client.post("/api/keys", json={"ip_allowlist": ["300.1.1.1/8"]})
        assert response.status_code == 422
        assert error_code(response) == "invalid_cidr"
        async with session_scope(runtime.db) as session:
            assert (await session.execute(select(MemberKey))).first() is None

    async def test_an_unknown_user_is_a_404(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        act_as(local_actor())
        response = await client.post("/api/keys", json={"user_email": "ghost@example.com"})
        assert response.status_code == 404
        assert error_code(response) == "user_not_found"

    async def test_oversize_fields_are_refused(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (member,) = await users(runtime, "member")
        act_as(actor_for(member))
        response = await client.post("/api/keys", json={"name": "x" * 101})
        assert response.status_code == 422
        response = await client.post("/api/keys", json={"expires_after_first_use_days": 0})
        assert response.status_code == 422

    async def test_a_member_touching_another_members_key_gets_403(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (alice, bob) = await users(runtime, "member", "member")
        async with session_scope(runtime.db) as session:
            key, _ = await make_key(session, bob)
        act_as(actor_for(alice))
        for method, path, body in (
            ("GET", f"/api/keys/{key.id}", None),
            ("POST", f"/api/keys/{key.id}/revoke", {}),
            ("POST", f"/api/keys/{key.id}/rotate", {}),
            ("PATCH", f"/api/keys/{key.id}", {"name": "mine now"}),
            ("GET", f"/api/keys?user_id={bob.id}", None),
        ):
            response = await client.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert error_code(response) == "permission_denied"

    async def test_an_expiry_date_means_the_end_of_that_day(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (member,) = await users(runtime, "member")
        act_as(actor_for(member))
        response = await client.post("/api/keys", json={"expires_at": "2099-12-31"})
        assert response.status_code == 201
        assert response.json()["expires_at"].startswith("2100-01-01T00:00:00")


class TestTokensApi:
    async def test_a_user_creates_lists_and_revokes_a_token(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (admin,) = await users(runtime, "admin")
        act_as(actor_for(admin))
        created = await client.post(
            "/api/tokens", json={"read_only": True, "expires_at": "2099-01-01"}
        )
        assert created.status_code == 201
        body = created.json()
        assert body["secret"].startswith("st-spectra-")
        assert body["read_only"] is True
        listed = (await client.get("/api/tokens")).json()
        assert [t["id"] for t in listed["items"]] == [body["id"]]
        assert "secret" not in listed["items"][0]
        revoked = await client.post(f"/api/tokens/{body['id']}/revoke")
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"

    async def test_a_token_for_someone_else_is_refused(
        self, client: httpx.AsyncClient, act_as: ActAs, runtime: Runtime
    ) -> None:
        (owner, member) = await users(runtime, "owner", "member")
        act_as(actor_for(owner))
        response = await client.post("/api/tokens", json={"user_id": str(member.id)})
        assert response.status_code == 403
        assert error_code(response) == "token_for_other_user"

    async def test_without_an_actor_the_api_answers_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/keys")
        assert response.status_code == 401
