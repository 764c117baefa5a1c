"""TOTP in the console: enrolment (QR code, first code, recovery codes), the code step of a
password sign-in, wrong, replayed and rate-limited codes, recovery codes used once, the seed
encrypted at rest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.console.conftest import BASE, Browser

from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime
from spectra.users.mfa.models import RecoveryCode, TotpFactor
from spectra.users.models import UserSession

from .helpers import code_at, code_step, enrol_totp, password_step

OpenBrowser = Callable[..., Awaitable[Browser]]


def _new_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def test_enrolment_stores_the_seed_encrypted_and_the_codes_hashed(
    runtime: Runtime, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    seed, codes = await enrol_totp(me)
    async with session_scope(runtime.db) as session:
        factor = (await session.execute(select(TotpFactor))).scalar_one()
        stored = [r.code_hash for r in (await session.execute(select(RecoveryCode))).scalars()]
        actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert factor.confirmed_at is not None
    assert seed not in factor.seed_ciphertext
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert "mfa.totp_enrolled" in actions
    page = await me.get("/console/account/mfa")
    assert "Enrolled" in page.text


async def test_a_wrong_first_code_does_not_enrol(
    runtime: Runtime, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    await me.post_form("/console/account/mfa/totp")
    page = await me.post_form("/console/account/mfa/totp/confirm", {"code": "000000"})
    assert "That code is wrong" in page.text
    async with session_scope(runtime.db) as session:
        factor = (await session.execute(select(TotpFactor))).scalar_one()
    assert factor.confirmed_at is None


async def test_sign_in_asks_for_the_code_after_the_password(
    runtime: Runtime, app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="admin")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=30))
    async with _new_client(app) as client:
        first = await password_step(client, me.user.email)
        assert first.headers["location"].startswith("/console/login/second-factor")
        blocked = await client.get("/console/")
        assert blocked.status_code == 303
        assert blocked.headers["location"] == "/console/login/second-factor"
        wrong = await code_step(client, "123456" if code_at(seed) != "123456" else "654321")
        assert wrong.status_code == 200
        assert "That code is wrong" in wrong.text
        done = await code_step(client, code_at(seed))
        assert done.status_code == 303
        assert done.headers["location"] == "/console/"
        assert (await client.get("/console/")).status_code == 200
    async with session_scope(runtime.db) as session:
        rows = (await session.execute(select(UserSession))).scalars().all()
        signed = [r for r in rows if r.method == "password+totp"]
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")))
            .scalars()
            .all()
        )
    assert len(signed) == 1
    assert signed[0].second_factor_pending is False
    assert any((e.details or {}).get("method") == "password+totp" for e in events)


async def test_the_same_code_is_refused_the_second_time(
    app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=30))
    code = code_at(seed)
    async with _new_client(app) as first:
        await password_step(first, me.user.email)
        assert (await code_step(first, code)).status_code == 303
    async with _new_client(app) as second:
        await password_step(second, me.user.email)
        replay = await code_step(second, code)
        assert replay.status_code == 200
        assert "That code was used already" in replay.text
        clock_module.advance(timedelta(seconds=30))
        assert (await code_step(second, code_at(seed))).status_code == 303


async def test_the_enrolment_code_cannot_sign_in_again(
    app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    async with _new_client(app) as client:
        await password_step(client, me.user.email)
        assert "used already" in (await code_step(client, code_at(seed))).text


async def test_a_recovery_code_signs_in_once(
    runtime: Runtime, app: Any, browser: OpenBrowser, clock: Any
) -> None:
    me = await browser(role="member")
    _, codes = await enrol_totp(me)
    async with _new_client(app) as client:
        await password_step(client, me.user.email)
        done = await code_step(client, codes[3].upper())
        assert done.status_code == 303
        assert done.headers["location"] == "/console/me"
    async with _new_client(app) as again:
        await password_step(again, me.user.email)
        refused = await code_step(again, codes[3])
        assert refused.status_code == 200
        assert "recovery code was used already" in refused.text
        assert (await code_step(again, codes[4])).status_code == 303
    async with session_scope(runtime.db) as session:
        used = (
            (await session.execute(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))))
            .scalars()
            .all()
        )
    assert len(used) == 2


async def test_wrong_codes_are_rate_limited(app: Any, browser: OpenBrowser, clock: Any) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    clock_module.advance(timedelta(seconds=60))
    async with _new_client(app) as client:
        await password_step(client, me.user.email)
        wrong = "111111" if code_at(seed) != "111111" else "222222"
        for _ in range(5):
            await code_step(client, wrong)
        locked = await code_step(client, code_at(seed))
        assert locked.status_code == 200
        assert "Too many wrong codes" in locked.text
        assert (await client.get("/console/me")).status_code == 303


async def test_a_pending_sign_in_expires(app: Any, browser: OpenBrowser, clock: Any) -> None:
    me = await browser(role="member")
    seed, _ = await enrol_totp(me)
    async with _new_client(app) as client:
        await password_step(client, me.user.email)
        clock_module.advance(timedelta(minutes=11))
        late = await code_step(client, code_at(seed))
        assert late.status_code == 303
        assert late.headers["location"] == "/console/login"
