"""Queries of single sign-on: providers and sign-in attempts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import SsoLogin, SsoProvider


async def find_provider_by_name(session: AsyncSession, name: str) -> SsoProvider | None:
    stmt = select(SsoProvider).where(SsoProvider.name_key == name.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_provider(session: AsyncSession, provider_id: uuid.UUID) -> SsoProvider | None:
    return await session.get(SsoProvider, provider_id)


async def list_providers(
    session: AsyncSession, *, enabled_only: bool = False
) -> Sequence[SsoProvider]:
    stmt = select(SsoProvider).order_by(SsoProvider.name_key)
    if enabled_only:
        stmt = stmt.where(SsoProvider.is_enabled.is_(True))
    return (await session.execute(stmt)).scalars().all()


async def find_login_by_state(session: AsyncSession, state_hash: str) -> SsoLogin | None:
    stmt = select(SsoLogin).where(SsoLogin.state_hash == state_hash).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_login_by_session(session: AsyncSession, session_id: uuid.UUID) -> SsoLogin | None:
    stmt = select(SsoLogin).where(SsoLogin.user_session_id == session_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_linked_user_id(
    session: AsyncSession, provider_id: uuid.UUID, subject: str
) -> uuid.UUID | None:
    """The user an earlier sign-in with this provider and `sub` was linked to."""
    stmt = (
        select(SsoLogin.user_id)
        .where(
            SsoLogin.provider_id == provider_id,
            SsoLogin.subject == subject,
            SsoLogin.user_id.is_not(None),
        )
        .order_by(SsoLogin.created_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_spent_logins(session: AsyncSession, older_than: datetime) -> int:
    """Delete sign-in attempts that expired before `older_than` and hold nothing any more: never
    finished, or finished without a console session still open (sign-out reads the provider off
    a live session's attempt, so those stay). Returns how many were deleted."""
    result = await session.execute(
        delete(SsoLogin).where(
            SsoLogin.expires_at < older_than,
            or_(SsoLogin.used_at.is_(None), SsoLogin.user_session_id.is_(None)),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
