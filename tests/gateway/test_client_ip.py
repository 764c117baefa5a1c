"""The client IP behind every decision (key allowlists, sign-in throttle, audit) is the TCP
peer unless that peer is a trusted proxy (SPECTRA_TRUSTED_PROXIES): an X-Forwarded-For from
anyone else, 127.0.0.1 included, is ignored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from tests.factories import make_user

from spectra.app import SpectraApp
from spectra.audit.models import AuditEvent
from spectra.config import Settings
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.users import passwords

from .world import ANTHROPIC_MODEL, OWNER, World

PASSWORD = "violet anchor mountain ledger"
FORWARDED = {"x-forwarded-for": "203.0.113.7"}


@pytest_asyncio.fixture
async def local_client(app: SpectraApp) -> AsyncIterator[httpx.AsyncClient]:
    """Requests whose TCP peer is 127.0.0.1, as from a process on the server's own host."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as c:
        yield c


async def _ask_with_allowlisted_key(client: httpx.AsyncClient, world: World) -> httpx.Response:
    async with session_scope(world.runtime.db) as session:
        _, secret = await keys_service.create_key(
            session, OWNER, user_id=world.user_id, ip_allowlist=["203.0.113.0/24"]
        )
    await world.sync()
    return await client.post(
        "/v1/messages",
        headers={"x-api-key": secret, **FORWARDED},
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )


async def test_a_forwarded_for_from_localhost_does_not_pass_a_key_allowlist(
    local_client: httpx.AsyncClient, pooled: World
) -> None:
    resp = await _ask_with_allowlisted_key(local_client, pooled)
    assert resp.status_code == 403
    assert resp.json()["error"]["reason_code"] == "ip_not_allowed"


async def test_a_trusted_proxy_passes_on_the_client_address(
    app: SpectraApp, local_client: httpx.AsyncClient, pooled: World
) -> None:
    app.trust_proxies(["127.0.0.1"])
    resp = await _ask_with_allowlisted_key(local_client, pooled)
    assert resp.status_code == 200, resp.text


async def _sign_in_ip(client: httpx.AsyncClient, world: World) -> str | None:
    async with session_scope(world.runtime.db) as session:
        user = await make_user(session, password_hash=passwords.hash_password(PASSWORD))
    resp = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD}, headers=FORWARDED
    )
    assert resp.status_code == 200, resp.text
    async with session_scope(world.runtime.db) as session:
        event = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.sign_in", AuditEvent.target_label == user.email
                )
            )
        ).scalar_one()
    return event.client_ip


@pytest.mark.parametrize(
    ("trusted", "expected"), [([], "127.0.0.1"), (["127.0.0.0/8"], "203.0.113.7")]
)
async def test_sign_in_is_audited_with_the_peer_unless_it_is_a_trusted_proxy(
    app: SpectraApp,
    local_client: httpx.AsyncClient,
    world: World,
    trusted: list[str],
    expected: str,
) -> None:
    app.trust_proxies(trusted)
    assert await _sign_in_ip(local_client, world) == expected


def test_trusted_proxies_must_be_addresses_or_ranges() -> None:
    assert Settings(trusted_proxies="10.0.0.1, 10.1.0.0/16").trusted_proxy_list == [
        "10.0.0.1",
        "10.1.0.0/16",
    ]
    with pytest.raises(ValueError, match="SPECTRA_TRUSTED_PROXIES"):
        Settings(trusted_proxies="proxy.example.com")
