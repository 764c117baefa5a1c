"""Step-up for a session opened through SSO: the console sends the person back to the provider
with `prompt=login&max_age=0`, and accepts the new login only with a fresh `auth_time`."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import update
from tests.console.conftest import csrf_of
from tests.fakes.oidc import FakeIdp

from spectra.db.session import session_scope
from spectra.kit.clock import utc_now
from spectra.runtime import Runtime
from spectra.users.models import UserSession
from spectra.users.sso.models import SsoProvider

from .test_sign_in import _start


async def _age_sessions(runtime: Runtime) -> None:
    """The sign-in happened 30 minutes ago (the ID token checks need the real clock)."""
    async with session_scope(runtime.db) as session:
        await session.execute(
            update(UserSession).values(authenticated_at=utc_now() - timedelta(minutes=30))
        )


async def _reauth_callback(client: httpx.AsyncClient, idp: FakeIdp) -> tuple[str, dict[str, str]]:
    page = await client.get("/console/reauth?next=/console/me/tokens")
    assert 'id="reauth-sso"' in page.text
    assert 'name="password"' not in page.text
    start = await client.get("/console/sso/Acme/start?reauth=1&next=/console/me/tokens")
    assert start.status_code == 303
    location = start.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    code, state = idp.authorize(location)
    return f"/console/sso/Acme/callback?code={code}&state={state}", query


async def test_an_sso_session_steps_up_by_logging_in_at_the_provider_again(
    runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
) -> None:
    assert (await client.get(await _start(client, idp))).status_code == 303
    await _age_sessions(runtime)
    csrf = csrf_of((await client.get("/console/account")).text)
    refused = await client.post(
        "/console/me/tokens",
        data={"name": "late", "csrf_token": csrf},
        headers={"referer": "http://spectra.test/console/me/tokens"},
    )
    assert refused.status_code == 403
    assert 'id="step-up-required"' in refused.text

    callback, query = await _reauth_callback(client, idp)
    assert (query["prompt"], query["max_age"]) == ("login", "0")
    idp.next_claims = {"auth_time": int(time.time())}
    done = await client.get(callback)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/me/tokens"
    csrf = csrf_of((await client.get("/console/account")).text)
    made = await client.post("/console/me/tokens", data={"name": "late", "csrf_token": csrf})
    assert made.status_code == 200
    assert 'id="new-token-secret"' in made.text


async def test_a_provider_that_does_not_ask_again_is_refused(
    runtime: Runtime, client: httpx.AsyncClient, idp: FakeIdp, provider: SsoProvider
) -> None:
    assert (await client.get(await _start(client, idp))).status_code == 303
    await _age_sessions(runtime)
    callback, _ = await _reauth_callback(client, idp)
    idp.next_claims = {"auth_time": int(time.time()) - 7200}
    stale = await client.get(callback)
    assert stale.status_code == 400
    assert "did not ask for your login again" in stale.text
