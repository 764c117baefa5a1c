"""Housekeeping of sign-in attempts: abandoned redirects go a day after they expire; an attempt
that opened a console session still open stays (sign-out reads the provider off it)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update
from tests.fakes.oidc import FakeIdp

from spectra.db.session import session_scope
from spectra.kit.clock import utc_now
from spectra.runtime import Runtime
from spectra.users.models import UserSession
from spectra.users.sso import signin
from spectra.users.sso.models import SsoLogin, SsoProvider

from .test_sign_in import _start


async def _logins(runtime: Runtime) -> list[SsoLogin]:
    async with session_scope(runtime.db) as session:
        return list((await session.execute(select(SsoLogin))).scalars())


async def _age(runtime: Runtime, login: SsoLogin, by: timedelta) -> None:
    async with session_scope(runtime.db) as session:
        await session.execute(
            update(SsoLogin)
            .where(SsoLogin.id == login.id)
            .values(expires_at=login.expires_at - by, created_at=login.created_at - by)
        )


async def test_spent_attempts_go_and_live_ones_stay(
    runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
) -> None:
    signed_in = await _start(client, idp)
    assert (await client.get(signed_in)).status_code == 303
    client.cookies.clear()
    await _start(client, idp)  # abandoned a while ago
    client.cookies.clear()
    await _start(client, idp)  # abandoned just now
    by_state = sorted(await _logins(runtime), key=lambda row: row.created_at)
    assert len(by_state) == 3
    finished, old_pending, new_pending = by_state
    assert finished.user_session_id is not None
    await _age(runtime, finished, timedelta(days=3))
    await _age(runtime, old_pending, timedelta(days=2))
    await _age(runtime, new_pending, timedelta(hours=12))

    assert await signin.purge_spent_logins(runtime.db) == 1
    left = {row.id for row in await _logins(runtime)}
    assert left == {finished.id, new_pending.id}

    # Once its console session is gone, the finished attempt holds nothing any more.
    async with session_scope(runtime.db) as session:
        await session.execute(
            update(UserSession)
            .where(UserSession.id == finished.user_session_id)
            .values(ended_at=utc_now())
        )
        await session.execute(
            update(SsoLogin).where(SsoLogin.id == finished.id).values(user_session_id=None)
        )
    assert await signin.purge_spent_logins(runtime.db) == 1
    assert {row.id for row in await _logins(runtime)} == {new_pending.id}
    assert await signin.purge_spent_logins(runtime.db) == 0
