"""One async builder per model: `await make_user(session, role="admin")`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.users.models import DEFAULT_GROUP, Group, User


async def default_group(session: AsyncSession) -> Group:
    group = (
        await session.execute(select(Group).where(Group.name_key == DEFAULT_GROUP))
    ).scalar_one_or_none()
    if group is None:
        group = Group(name=DEFAULT_GROUP, name_key=DEFAULT_GROUP, is_builtin=True)
        session.add(group)
        await session.flush()
    return group


async def make_group(session: AsyncSession, **overrides: Any) -> Group:
    name = overrides.pop("name", f"team-{uuid.uuid4().hex[:6]}")
    group = Group(name=name, name_key=name.lower(), **overrides)
    session.add(group)
    await session.flush()
    return group


async def make_user(session: AsyncSession, **overrides: Any) -> User:
    if "group_id" not in overrides:
        group = overrides.pop("group", None) or await default_group(session)
        overrides["group_id"] = group.id
    email = overrides.pop("email", f"user-{uuid.uuid4().hex[:8]}@example.com").lower()
    values: dict[str, Any] = {"name": "Test User", "role": "member", "status": "active"}
    values.update(overrides)
    user = User(email=email, **values)
    session.add(user)
    await session.flush()
    return user
