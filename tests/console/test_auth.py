"""Sign-in, sign-out, expiry, lockout, setup link, password change, CSRF."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.factories import make_user

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime
from spectra.users import passwords
from spectra.users import service as users_service

from .conftest import PASSWORD, csrf_of


async def _member(runtime: Runtime, **fields: Any) -> Any:
    async with session_scope(runtime.db) as session:
        return await make_user(session, password_hash=passwords.hash_password(PASSWORD), **fields)


class TestSignIn:
    async def test_sets_an_httponly_lax_session_cookie_and_lands_on_the_portal(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        user = await _member(runtime)
        response = await client.post(
            "/console/login", data={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/me"
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith("spectra_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie
        page = await client.get("/console/me")
        assert page.status_code == 200
        assert user.email in page.text

    async def test_cookie_is_secure_over_https(self, runtime: Runtime, app: Any) -> None:
        user = await _member(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://spectra.test") as c:
            response = await c.post(
                "/console/login", data={"email": user.email, "password": PASSWORD}
            )
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith("spectra_session=")
        )
        assert "Secure" in cookie

    async def test_wrong_password_shows_the_sentence_then_locks_out(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        user = await _member(runtime)
        wrong = {"email": user.email, "password": "not the password at all"}
        first = await client.post("/console/login", data=wrong)
        assert first.status_code == 200
        assert "The email or password is wrong." in first.text
        for _ in range(10):
            last = await client.post("/console/login", data=wrong)
        assert "Too many failed sign-ins" in last.text
        assert "spectra_session" not in client.cookies

    async def test_pages_redirect_to_sign_in_with_next(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/console/me/usage?model=x")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login?next=/console/me/usage%3Fmodel%3Dx"

    async def test_next_only_follows_console_paths(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        user = await _member(runtime, role="admin")
        response = await client.post(
            "/console/login",
            data={"email": user.email, "password": PASSWORD, "next": "https://evil.test/"},
        )
        assert response.headers["location"] == "/console/"

    async def test_an_expired_session_sends_you_to_sign_in(
        self, runtime: Runtime, client: httpx.AsyncClient, clock: Any
    ) -> None:
        user = await _member(runtime)
        await client.post("/console/login", data={"email": user.email, "password": PASSWORD})
        clock_module.advance(timedelta(hours=runtime.settings.session_ttl_hours + 1))
        response = await client.get("/console/me")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login")


class TestSignOut:
    async def test_ends_the_session_and_needs_the_csrf_token(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        user = await _member(runtime)
        await client.post("/console/login", data={"email": user.email, "password": PASSWORD})
        token = csrf_of((await client.get("/console/me")).text)
        refused = await client.post("/console/logout", data={})
        assert refused.status_code == 403
        response = await client.post("/console/logout", data={"csrf_token": token})
        assert response.status_code == 303
        client.cookies.clear()
        assert (await client.get("/console/me")).status_code == 303


class TestSetup:
    async def test_an_invited_user_chooses_a_password_once(
        self, runtime: Runtime, client: httpx.AsyncClient
    ) -> None:
        async with session_scope(runtime.db) as session:
            issued = await users_service.invite_user(
                session, local_actor(), email="new@example.com", name="New"
            )
        page = await client.get(f"/console/setup?token={issued.token}")
        assert page.status_code == 200
        assert issued.token in page.text
        short = await client.post(
            "/console/setup",
            data={"token": issued.token, "password": "short", "password_again": "short"},
        )
        assert "at least 12 characters" in short.text
        done = await client.post(
            "/console/setup",
            data={"token": issued.token, "password": PASSWORD, "password_again": PASSWORD},
        )
        assert done.status_code == 303
        again = await client.post(
            "/console/setup",
            data={"token": issued.token, "password": PASSWORD, "password_again": PASSWORD},
        )
        assert "already used or expired" in again.text
        signed = await client.post(
            "/console/login", data={"email": "new@example.com", "password": PASSWORD}
        )
        assert signed.status_code == 303


class TestChangePassword:
    async def test_wrong_current_password_is_shown_next_to_the_field(self, browser: Any) -> None:
        b = await browser(role="member")
        response = await b.post_form(
            "/console/account/password",
            {
                "current_password": "wrong wrong wrong",
                "new_password": "a new long password",
                "new_password_again": "a new long password",
            },
        )
        assert response.status_code == 200
        assert 'id="e-current_password"' in response.text
        assert "The current password is wrong." in response.text

    async def test_changes_it_and_ends_the_session(self, browser: Any, runtime: Runtime) -> None:
        b = await browser(role="member")
        response = await b.post_form(
            "/console/account/password",
            {
                "current_password": PASSWORD,
                "new_password": "a new long password",
                "new_password_again": "a new long password",
            },
        )
        assert response.status_code == 303
        assert (await b.get("/console/me")).status_code == 303
        async with session_scope(runtime.db) as session:
            actions = (
                (
                    await session.execute(
                        select(AuditEvent.action).where(AuditEvent.target_id == str(b.user.id))
                    )
                )
                .scalars()
                .all()
            )
        assert "users.change_password" in actions

    async def test_refused_without_the_csrf_token(self, browser: Any) -> None:
        b = await browser(role="member")
        response = await b.post_form(
            "/console/account/password",
            {
                "current_password": PASSWORD,
                "new_password": "a new long password",
                "new_password_again": "a new long password",
            },
            csrf=False,
        )
        assert response.status_code == 403
        assert (await b.get("/console/me")).status_code == 200

    async def test_refused_from_another_origin(self, browser: Any) -> None:
        b = await browser(role="member")
        response = await b.client.post(
            "/console/account/password",
            data={"csrf_token": b.csrf, "current_password": PASSWORD},
            headers={"origin": "https://evil.test"},
        )
        assert response.status_code == 403


class TestBrowserHardening:
    async def test_console_pages_may_not_be_framed_and_run_only_own_scripts(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/console/login")
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        static = await client.get("/console/static/console.js")
        assert static.headers["x-frame-options"] == "DENY"
