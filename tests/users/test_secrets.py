"""No plaintext password, setup token, session token or CSRF token anywhere in the database or
the logs after creating them (through the API, so every layer takes part)."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select, text
from tests.factories import make_user

from spectra import bootstrap
from spectra.audit.actor import local_actor
from spectra.db.base import Base
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime

PASSWORD = "plaintext-password-never-stored"


async def _dump(runtime: Runtime) -> str:
    """Every cell of every table, as text."""
    chunks: list[str] = []
    async with runtime.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            chunks.extend(repr(tuple(row)) for row in rows)
        if runtime.db.dialect == "sqlite":
            chunks.extend(
                str(r) for r in (await conn.execute(text("SELECT * FROM sqlite_master"))).all()
            )
    return "\n".join(chunks)


async def test_no_secret_in_the_database_or_logs(
    runtime: Runtime, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with session_scope(runtime.db) as session:
        owner = await make_user(session, role="owner")
        _, token = await keys_service.create_token(session, local_actor(), user_id=owner.id)
    headers = {"authorization": f"Bearer {token}"}
    created = await client.post(
        "/api/users", json={"email": "secret@example.com", "invite": True}, headers=headers
    )
    setup_token = created.json()["setup_link"]["token"]
    assert (
        await client.post("/api/auth/setup", json={"token": setup_token, "password": PASSWORD})
    ).status_code == 200
    login = await client.post(
        "/api/auth/login", json={"email": "secret@example.com", "password": PASSWORD}
    )
    session_token = client.cookies["spectra_session"]
    csrf = login.json()["csrf_token"]
    other = "another-plaintext-password"
    assert (
        await client.post(
            "/api/users/secret@example.com/password", json={"password": other}, headers=headers
        )
    ).status_code == 200
    second_link = (
        await client.post("/api/users/secret@example.com/setup-link", headers=headers)
    ).json()["token"]

    dump = await _dump(runtime)
    logs = caplog.text
    for name, secret in {
        "password": PASSWORD,
        "second password": other,
        "setup token": setup_token,
        "second setup token": second_link,
        "session token": session_token,
        "csrf token": csrf,
        "api token": token,
    }.items():
        assert secret not in dump, f"the {name} is in the database"
        assert secret not in logs, f"the {name} is in the logs"
    assert "$argon2id$" in dump


async def test_first_start_prints_a_setup_link_once_and_never_logs_it(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lines = await bootstrap.first_start(runtime)
    url = next(line.strip() for line in lines if "/console/setup?token=" in line)
    token = url.rsplit("=", 1)[1]
    assert await bootstrap.first_start(runtime) == []
    assert token not in caplog.text
    assert token not in await _dump(runtime)
