"""The users, groups, auth and /api/me routes over HTTP with real credentials."""

from __future__ import annotations

from typing import Any

import httpx
from tests.factories import make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users import service as users_service

from .factories import PASSWORD


async def _user_with_token(
    runtime: Runtime, role: str = "owner", **overrides: Any
) -> tuple[Any, dict[str, str]]:
    async with session_scope(runtime.db) as session:
        user = await make_user(
            session, role=role, password_hash=passwords.hash_password(PASSWORD), **overrides
        )
        _, secret = await keys_service.create_token(session, local_actor(), user_id=user.id)
    return user, {"authorization": f"Bearer {secret}"}


async def _sign_in(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


class TestSignIn:
    async def test_sets_an_httponly_lax_cookie_and_answers_me(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _user, _ = await _user_with_token(runtime, role="admin", email="console@example.com")
        response = await client.post(
            "/api/auth/login", json={"email": "Console@Example.com", "password": PASSWORD}
        )
        assert response.status_code == 200
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith("spectra_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        me = await client.get("/api/me")
        assert me.status_code == 200
        assert (me.json()["user"]["email"], me.json()["role"], me.json()["via"]) == (
            "console@example.com",
            "admin",
            "session",
        )
        assert me.json()["group"]["name"] == "default"

    async def test_a_state_change_with_the_cookie_needs_the_csrf_token(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        await _user_with_token(runtime, role="owner", email="csrf@example.com")
        csrf = await _sign_in(client, "csrf@example.com")
        body = {"name": "Design"}
        assert (await client.post("/api/groups", json=body)).json()["error"][
            "code"
        ] == "csrf_failed"
        foreign = await client.post(
            "/api/groups",
            json=body,
            headers={"x-csrf-token": csrf, "origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        ok = await client.post(
            "/api/groups",
            json=body,
            headers={"x-csrf-token": csrf, "origin": "http://spectra.test"},
        )
        assert ok.status_code == 201

    async def test_logout_ends_the_session(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        await _user_with_token(runtime, email="bye@example.com")
        csrf = await _sign_in(client, "bye@example.com")
        cookie = client.cookies.get("spectra_session")
        assert (
            await client.post("/api/auth/logout", headers={"x-csrf-token": csrf})
        ).status_code == 204
        client.cookies.set("spectra_session", cookie or "")
        response = await client.get("/api/me")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "session_invalid"

    async def test_wrong_password_then_lockout_with_a_sentence(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        await _user_with_token(runtime, email="brute@example.com")
        for _ in range(5):
            response = await client.post(
                "/api/auth/login", json={"email": "brute@example.com", "password": "wrong password"}
            )
            assert response.status_code == 401
        locked = await client.post(
            "/api/auth/login", json={"email": "brute@example.com", "password": PASSWORD}
        )
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "sign_in_locked"
        assert "try again in" in locked.json()["error"]["message"]
        assert int(locked.headers["retry-after"]) > 0


class TestSetupLink:
    async def test_an_invited_user_sets_a_password_once_then_signs_in(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _, headers = await _user_with_token(runtime)
        created = await client.post(
            "/api/users", json={"email": "invitee@example.com", "invite": True}, headers=headers
        )
        assert created.status_code == 201
        link = created.json()["setup_link"]
        assert link["url"].endswith(link["token"])
        assert created.json()["status"] == "invited"
        done = await client.post(
            "/api/auth/setup", json={"token": link["token"], "password": PASSWORD}
        )
        assert done.status_code == 200
        assert done.json()["status"] == "active"
        again = await client.post(
            "/api/auth/setup", json={"token": link["token"], "password": PASSWORD}
        )
        assert again.json()["error"]["code"] == "setup_link_invalid"
        await _sign_in(client, "invitee@example.com")


class TestMePassword:
    async def test_changes_the_password_and_ends_the_session(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        await _user_with_token(runtime, role="member", email="me@example.com")
        csrf = await _sign_in(client, "me@example.com")
        body = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
        assert (
            await client.post("/api/me/password", json=body, headers={"x-csrf-token": csrf})
        ).status_code == 204
        assert (await client.get("/api/me")).status_code == 401


class TestAuthentication:
    async def test_a_suspended_users_token_is_refused_with_a_sentence(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        user, headers = await _user_with_token(runtime, role="admin")
        async with session_scope(runtime.db) as session:
            await users_service.suspend_user(
                session, local_actor(), user=user.id, reason="on leave"
            )
        response = await client.get("/api/me", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "user_suspended"

    async def test_a_member_key_acts_as_a_member_whatever_the_role(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        async with session_scope(runtime.db) as session:
            admin = await make_user(session, role="admin")
            _, secret = await keys_service.create_key(session, local_actor(), user_id=admin.id)
        me = await client.get("/api/me", headers={"x-api-key": secret})
        assert (me.json()["role"], me.json()["via"]) == ("member", "key")
        assert (
            await client.get("/api/users", headers={"authorization": f"Bearer {secret}"})
        ).status_code == 403

    async def test_an_unknown_token_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        response = await client.get("/api/me", headers={"authorization": "Bearer st-spectra-nope"})
        assert response.status_code == 401

    async def test_the_audit_row_carries_request_id_and_client_ip(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _, headers = await _user_with_token(runtime)
        response = await client.post(
            "/api/groups",
            json={"name": "Traced"},
            headers={**headers, "x-request-id": "trace-abcdef12"},
        )
        assert response.status_code == 201
        events = (
            await client.get(
                "/api/audit/events", params={"action": "groups.create"}, headers=headers
            )
        ).json()
        assert events["items"][0]["request_id"] == "trace-abcdef12"
        assert events["items"][0]["client_ip"] == "127.0.0.1"


class TestBadInput:
    async def test_duplicate_email_in_any_case_is_409(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _, headers = await _user_with_token(runtime)
        assert (
            await client.post("/api/users", json={"email": "twin@example.com"}, headers=headers)
        ).status_code == 201
        again = await client.post("/api/users", json={"email": "TWIN@example.com"}, headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "email_taken"

    async def test_unknown_role_is_422(self, runtime: Runtime, client: httpx.AsyncClient) -> None:
        _, headers = await _user_with_token(runtime)
        response = await client.post(
            "/api/users", json={"email": "r@example.com", "role": "emperor"}, headers=headers
        )
        assert response.status_code == 422
        user = await client.get("/api/users/r@example.com", headers=headers)
        assert user.status_code == 404

    async def test_last_owner_is_409(self, runtime: Runtime, client: httpx.AsyncClient) -> None:
        owner, headers = await _user_with_token(runtime)
        response = await client.post(
            f"/api/users/{owner.email}/role", json={"role": "admin"}, headers=headers
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "last_owner"
        assert "last active owner" in response.json()["error"]["message"]

    async def test_oversize_fields_are_422(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _, headers = await _user_with_token(runtime)
        for body in ({"email": "x@example.com", "name": "n" * 201}, {"email": "e" * 321}):
            assert (await client.post("/api/users", json=body, headers=headers)).status_code == 422
        assert (
            await client.post("/api/groups", json={"name": "g" * 101}, headers=headers)
        ).status_code == 422
        assert (
            await client.post(
                "/api/groups", json={"name": "g", "monthly_cap": "1.0000001"}, headers=headers
            )
        ).json()["error"]["code"] == "invalid_amount"

    async def test_import_is_all_or_nothing_with_a_report(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _, headers = await _user_with_token(runtime)
        text = "email,name,group,role\ngood@example.com,Good,,\nbad-email,Bad,,\n"
        response = await client.post("/api/users/import", json={"csv": text}, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "import_rejected"
        assert response.json()["error"]["details"]["rejected"] == [
            {"line": 3, "email": "bad-email", "reason": "'bad-email' is not an email address"}
        ]
        assert (await client.get("/api/users/good@example.com", headers=headers)).status_code == 404


class TestGroupsApi:
    async def test_budgets_are_exact_decimal_strings_with_micros(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        _, headers = await _user_with_token(runtime)
        created = await client.post(
            "/api/groups", json={"name": "Platform", "monthly_cap": "300.50"}, headers=headers
        )
        assert (created.json()["monthly_cap"], created.json()["monthly_cap_micros"]) == (
            "300.50",
            300_500_000,
        )
        patched = await client.patch(
            "/api/groups/platform",
            json={"monthly_cap": None, "member_monthly_cap": "20"},
            headers=headers,
        )
        assert (patched.json()["monthly_cap"], patched.json()["member_monthly_cap"]) == (
            None,
            "20.00",
        )
        listed = await client.get("/api/groups", headers=headers)
        assert {g["name"] for g in listed.json()["items"]} >= {"default", "Platform"}
