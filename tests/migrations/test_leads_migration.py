"""0026_leads copies every existing user's group into group_memberships as their primary one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from spectra.db import migrate

GROUPS = sa.table(
    "groups",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
    sa.column("description", sa.String()),
    sa.column("is_builtin", sa.Boolean()),
    sa.column("created_at", sa.DateTime()),
    sa.column("updated_at", sa.DateTime()),
)
USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("status", sa.String()),
    sa.column("group_id", sa.Uuid()),
    sa.column("created_at", sa.DateTime()),
    sa.column("updated_at", sa.DateTime()),
)
MEMBERSHIPS = sa.table(
    "group_memberships",
    sa.column("user_id", sa.Uuid()),
    sa.column("group_id", sa.Uuid()),
    sa.column("is_primary", sa.Boolean()),
)


async def test_existing_users_become_primary_members_of_their_group(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await migrate.upgrade(url, "0019_pool_account_kinds")
    now = datetime.now(UTC).replace(tzinfo=None)
    teams = {uuid.uuid4(): f"team-{i}" for i in range(2)}
    people = {uuid.uuid4(): group for group in teams for _ in range(2)}
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for group_id, name in teams.items():
                await conn.execute(
                    GROUPS.insert().values(
                        id=group_id,
                        name=name,
                        name_key=name,
                        description="",
                        is_builtin=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
            for n, (user_id, group_id) in enumerate(people.items()):
                await conn.execute(
                    USERS.insert().values(
                        id=user_id,
                        email=f"user-{n}@example.com",
                        name="",
                        role="member",
                        status="active",
                        group_id=group_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
        await migrate.upgrade(url)
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(MEMBERSHIPS))).all()
    finally:
        await engine.dispose()
    assert {(r.user_id, r.group_id) for r in rows} == set(people.items())
    assert all(r.is_primary for r in rows)
