"""The REST API's password sign-in for an account with a second factor: the password step
answers `mfa_required` with a challenge (no session), a second call with a TOTP or recovery
code signs in; wrong, replayed and rate-limited codes and an expired challenge are refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.console.conftest import BASE, PASSWORD, Browser

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime
from spectra.users.models import UserSession
from spectra.users.sessions import SESSION_COOKIE

from .helpers import code_at, enrol_totp

OpenBrowser = Callable[..., Awaitable[Browser]]


def _new_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def _challenge(client: httpx.AsyncClient, email: str) -> str:
    answer = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == "mfa_required"
    assert SESSION_COOKIE not in answer.cookies
    return str(error["details"]["challenge"])


async def _second(client: httpx.AsyncClient, challenge: str, code: str) -> httpx.Response:
    return await client.post(
        "/api/auth/login/second-factor", json={"challenge": challenge, "code": code}
    )


def _wrong(seed: str) -> str:
    return "123456" if code_at(seed) != "123456" else "654321"


async def test_the_password_step_gives_a_challenge_and_the_code_signs_in(
    runtime: Runtime, app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="admin")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=30))
    async with _new_client(app) as client:
        challenge = await _challenge(client, me.user.email)
        # The challenge is no session: used as the cookie it opens nothing.
        client.cookies.set(SESSION_COOKIE, challenge)
        assert (await client.get("/api/me")).status_code == 401
        client.cookies.clear()
        done = await _second(client, challenge, code_at(seed))
        assert done.status_code == 200, done.text
        assert done.json()["user"]["email"] == me.user.email
        token = done.cookies[SESSION_COOKIE]
        assert token != challenge
        mine = await client.get("/api/me")
        assert mine.status_code == 200, mine.text
        assert mine.json()["user"]["email"] == me.user.email
        # The challenge is spent.
        again = await _second(client, challenge, code_at(seed, steps=1))
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "session_invalid"
    async with session_scope(runtime.db) as session:
        rows = (await session.execute(select(UserSession))).scalars().all()
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")))
            .scalars()
            .all()
        )
    assert [r.method for r in rows if r.method == "password+totp"] == ["password+totp"]
    assert any((e.details or {}).get("method") == "password+totp" for e in events)


async def test_a_wrong_code_is_refused_and_the_challenge_stays_usable(
    app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=30))
    async with _new_client(app) as client:
        challenge = await _challenge(client, me.user.email)
        wrong = await _second(client, challenge, _wrong(seed))
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "second_factor_wrong"
        assert SESSION_COOKIE not in wrong.cookies
        assert (await _second(client, challenge, code_at(seed))).status_code == 200


async def test_a_replayed_code_is_refused(app: Any, browser: OpenBrowser, clock: Any) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=30))
    code = code_at(seed)
    async with _new_client(app) as first:
        assert (
            await _second(first, await _challenge(first, me.user.email), code)
        ).status_code == 200
    async with _new_client(app) as second:
        challenge = await _challenge(second, me.user.email)
        replay = await _second(second, challenge, code)
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "second_factor_replayed"


async def test_a_recovery_code_signs_in_once(app: Any, browser: OpenBrowser, clock: Any) -> None:
    me = await browser(role="member")
    _, codes = await enrol_totp(me)
    async with _new_client(app) as client:
        challenge = await _challenge(client, me.user.email)
        assert (await _second(client, challenge, codes[0])).status_code == 200
    async with _new_client(app) as again:
        challenge = await _challenge(again, me.user.email)
        used = await _second(again, challenge, codes[0])
        assert used.status_code == 401
        assert used.json()["error"]["code"] == "second_factor_wrong"


async def test_an_expired_challenge_is_refused(app: Any, browser: OpenBrowser, clock: Any) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    async with _new_client(app) as client:
        challenge = await _challenge(client, me.user.email)
        clock_module.advance(timedelta(minutes=11))
        late = await _second(client, challenge, code_at(seed))
        assert late.status_code == 401
        assert late.json()["error"]["code"] == "session_invalid"
        assert SESSION_COOKIE not in late.cookies


async def test_wrong_codes_are_rate_limited_like_the_console(
    app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=60))
    async with _new_client(app) as client:
        challenge = await _challenge(client, me.user.email)
        for _ in range(5):
            assert (await _second(client, challenge, _wrong(seed))).status_code == 401
        locked = await _second(client, challenge, code_at(seed))
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "second_factor_locked"
        assert "retry-after" in locked.headers
