"""No member key or API token secret is stored, logged or even sent to the database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from spectra.audit.actor import Actor, local_actor
from spectra.db.base import Base
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.kit.ids import ADMIN_TOKEN_PREFIX, MEMBER_KEY_PREFIX
from spectra.runtime import Runtime

from .factories import actor_for, make_admin, make_member


async def dump_database(runtime: Runtime) -> str:
    parts: list[str] = []
    async with session_scope(runtime.db) as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            parts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(parts)


async def test_no_secret_is_in_the_database_or_the_logs(
    client: httpx.AsyncClient,
    act_as: Callable[[Actor], None],
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sent: list[str] = []

    def capture(*args: Any) -> None:
        sent.append(f"{args[2]} {args[3]!r}")

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", capture)
    async with session_scope(runtime.db) as session:
        admin, member = await make_admin(session), await make_member(session)
        _, service_key = await keys_service.create_key(
            session, local_actor(), user_id=member.id, name="svc"
        )
        _, service_token = await keys_service.create_token(session, local_actor(), user_id=admin.id)
    act_as(actor_for(admin))
    api_key = (
        await client.post(
            "/api/keys", json={"user_email": member.email, "ip_allowlist": ["10.0.0.0/8"]}
        )
    ).json()
    rotated = (
        await client.post(f"/api/keys/{api_key['id']}/rotate", json={"grace_hours": 1})
    ).json()
    api_token = (await client.post("/api/tokens", json={"read_only": True})).json()
    await client.get("/api/keys")
    await client.get("/api/tokens")
    async with session_scope(runtime.db) as session:
        await keys_service.authenticate_key(session, service_key)
        await keys_service.authenticate_token(session, service_token)
    await runtime.committer.flush()
    event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", capture)

    secrets = [
        service_key,
        service_token,
        api_key["secret"],
        rotated["secret"],
        api_token["secret"],
    ]
    assert all(s.startswith((MEMBER_KEY_PREFIX, ADMIN_TOKEN_PREFIX)) for s in secrets)
    bodies = [s.split("-", 2)[2] for s in secrets]
    dump = await dump_database(runtime)
    assert "member_keys" not in dump  # sanity: rows, not names
    assert api_key["prefix"] in dump, "the dump should contain the key rows"
    logs = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert caplog.records, "the requests should have been logged"
    statements = "\n".join(sent)
    assert "member_keys" in statements, "the SQL sent to the database should have been captured"
    for body in bodies:
        assert body not in dump
        assert body not in logs
        assert body not in statements
        assert body[:16] not in dump
