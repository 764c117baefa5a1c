"""Queries of member keys and admin tokens (and the few user reads they need)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from spectra.db.repository import contains_pattern, paginate
from spectra.kit.pagination import Page
from spectra.users.models import GroupMembership, User

from .models import KEY_ACTIVE, KEY_EXPIRED, KEY_REVOKED, AdminToken, MemberKey


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.strip().lower()))
    return result.scalar_one_or_none()


_Held = TypeVar("_Held", MemberKey, AdminToken)
"""A credential a user holds: member keys and admin tokens share the columns read here."""


async def _one(
    session: AsyncSession, model: type[_Held], where: Any, *, fresh: bool = False
) -> _Held | None:
    """The one credential matching `where`, its user loaded (`fresh`: re-read the row as it is
    now, not the copy the session already holds)."""
    stmt = select(model).options(joinedload(model.user)).where(where)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _page(
    session: AsyncSession,
    model: type[_Held],
    *,
    user_id: uuid.UUID | None,
    where: Sequence[Any] = (),
    limit: int | None,
    cursor: str | None,
) -> Page[_Held]:
    """A page of credentials (of one user when `user_id` is set), newest first, users loaded."""
    stmt: Select[Any] = select(model).options(joinedload(model.user)).where(*where)
    if user_id is not None:
        stmt = stmt.where(model.user_id == user_id)
    return await paginate(
        session, stmt, sort_time=model.created_at, sort_id=model.id, limit=limit, cursor=cursor
    )


async def _touch(
    session: AsyncSession, model: type[_Held], uses: dict[uuid.UUID, datetime]
) -> None:
    """Move each credential's last use forward to its time in `uses` (never back)."""
    for row_id, at in uses.items():
        await session.execute(
            update(model)
            .where(model.id == row_id, or_(model.last_used_at.is_(None), model.last_used_at < at))
            .values(last_used_at=at)
            .execution_options(synchronize_session=False)
        )


async def get_key(session: AsyncSession, key_id: uuid.UUID) -> MemberKey | None:
    return await _one(session, MemberKey, MemberKey.id == key_id)


async def find_key_by_hash(session: AsyncSession, digest: str) -> MemberKey | None:
    return await _one(session, MemberKey, MemberKey.hash == digest, fresh=True)


async def page_keys(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    status: str | None,
    now: datetime,
    limit: int | None,
    cursor: str | None,
    text: str | None = None,
) -> Page[MemberKey]:
    where = [_key_status_clause(status, now)] if status is not None else []
    if text:
        pattern = contains_pattern(text)
        where.append(
            or_(
                func.lower(MemberKey.prefix).like(pattern, escape="\\"),
                func.lower(MemberKey.name).like(pattern, escape="\\"),
            )
        )
    return await _page(session, MemberKey, user_id=user_id, where=where, limit=limit, cursor=cursor)


def _key_status_clause(status: str, now: datetime) -> Any:
    # Written without NOT over nullable comparisons: NULL would make them unknown, not true.
    in_grace = or_(MemberKey.grace_until.is_(None), MemberKey.grace_until > now)
    if status == KEY_REVOKED:
        return or_(MemberKey.status == KEY_REVOKED, MemberKey.grace_until <= now)
    if status == KEY_EXPIRED:
        return and_(
            MemberKey.status == KEY_ACTIVE,
            in_grace,
            or_(MemberKey.expires_at <= now, MemberKey.use_expires_at <= now),
        )
    assert status == KEY_ACTIVE
    return and_(
        MemberKey.status == KEY_ACTIVE,
        in_grace,
        or_(MemberKey.expires_at.is_(None), MemberKey.expires_at > now),
        or_(MemberKey.use_expires_at.is_(None), MemberKey.use_expires_at > now),
    )


CACHE_COLUMNS = (
    MemberKey.id,
    MemberKey.hash,
    MemberKey.name,
    MemberKey.prefix,
    MemberKey.user_id,
    MemberKey.scopes,
    MemberKey.ip_allowlist,
    MemberKey.status,
    MemberKey.expires_at,
    MemberKey.expires_after_first_use_days,
    MemberKey.first_used_at,
    MemberKey.use_expires_at,
    MemberKey.grace_until,
    User.email,
    User.status,
    User.role,
    func.coalesce(GroupMembership.group_id, User.group_id),
)
"""The key's group is the one it is bound to while the user belongs to it, else the primary."""


async def cache_rows(
    session: AsyncSession,
    *,
    key_ids: Iterable[uuid.UUID] | None = None,
    user_ids: Iterable[uuid.UUID] | None = None,
    hashes: Iterable[str] | None = None,
) -> Sequence[Row[Any]]:
    """One query: the columns the gateway cache needs, for all keys or the ones named."""
    stmt = (
        select(*CACHE_COLUMNS)
        .join(User, User.id == MemberKey.user_id)
        .outerjoin(
            GroupMembership,
            and_(
                GroupMembership.user_id == MemberKey.user_id,
                GroupMembership.group_id == MemberKey.group_id,
            ),
        )
    )
    if hashes is not None:
        stmt = stmt.where(MemberKey.hash.in_(list(hashes)))
    if key_ids is not None:
        stmt = stmt.where(MemberKey.id.in_(list(key_ids)))
    if user_ids is not None:
        stmt = stmt.where(MemberKey.user_id.in_(list(user_ids)))
    result = await session.execute(stmt)
    rows: Sequence[Row[Any]] = result.all()  # type: ignore[assignment]
    return rows


async def record_first_use(
    session: AsyncSession, key_id: uuid.UUID, at: datetime, expires: datetime
) -> bool:
    """Persist a key's first use unless another process already did; True when this one did."""
    result = await session.execute(
        update(MemberKey)
        .where(MemberKey.id == key_id, MemberKey.first_used_at.is_(None))
        .values(first_used_at=at, use_expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def touch_keys(session: AsyncSession, uses: dict[uuid.UUID, datetime]) -> None:
    await _touch(session, MemberKey, uses)


async def touch_tokens(session: AsyncSession, uses: dict[uuid.UUID, datetime]) -> None:
    await _touch(session, AdminToken, uses)


async def get_token(session: AsyncSession, token_id: uuid.UUID) -> AdminToken | None:
    return await _one(session, AdminToken, AdminToken.id == token_id)


async def find_token_by_hash(session: AsyncSession, digest: str) -> AdminToken | None:
    return await _one(session, AdminToken, AdminToken.hash == digest, fresh=True)


async def page_tokens(
    session: AsyncSession, *, user_id: uuid.UUID | None, limit: int | None, cursor: str | None
) -> Page[AdminToken]:
    return await _page(session, AdminToken, user_id=user_id, limit=limit, cursor=cursor)
