"""Queries of the users domain: users (with their group loaded), groups, sessions, setup links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from spectra.db.listing import Sorting, page_sorted
from spectra.db.repository import contains_pattern, page_rows, paginate
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page

from .models import Group, GroupMembership, KnownDevice, PasswordSetupLink, User, UserSession

_CHUNK = 500
"""Ids or emails per IN list (well under every driver's bound-parameter limit)."""


def _users() -> Select[User]:
    return select(User).options(joinedload(User.group))


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return (await session.execute(_users().where(User.id == user_id))).scalar_one_or_none()


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = _users().where(User.email == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def users_by_email(session: AsyncSession, emails: set[str]) -> dict[str, User]:
    """Users (group loaded) keyed by their stored (lower-case) email; `emails` already cleaned."""
    found: dict[str, User] = {}
    wanted = sorted(emails)
    for start in range(0, len(wanted), _CHUNK):
        rows = await session.execute(_users().where(User.email.in_(wanted[start : start + _CHUNK])))
        found.update((user.email, user) for user in rows.scalars())
    return found


async def users_by_id(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    found: dict[uuid.UUID, User] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), _CHUNK):
        rows = await session.execute(_users().where(User.id.in_(wanted[start : start + _CHUNK])))
        found.update((user.id, user) for user in rows.scalars())
    return found


async def email_exists(
    session: AsyncSession, email: str, *, except_id: uuid.UUID | None = None
) -> bool:
    stmt = select(User.id).where(User.email == email.lower())
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def existing_emails(session: AsyncSession, emails: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(emails), _CHUNK):
        part = list(emails[start : start + _CHUNK])
        rows = await session.execute(select(User.email).where(User.email.in_(part)))
        found.update(rows.scalars())
    return found


async def count_active_owners(session: AsyncSession, *, lock: bool = False) -> int:
    stmt = select(User.id).where(User.role == "owner", User.status == "active")
    if lock and session.get_bind().dialect.name == "postgresql":
        # Lock the owner rows so two concurrent demotions cannot both see "another owner remains".
        stmt = stmt.with_for_update()
    return len((await session.execute(stmt)).scalars().all())


async def any_owner(session: AsyncSession) -> User | None:
    stmt = _users().where(User.role == "owner", User.status.in_(("active", "invited"))).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


USER_SORTING = Sorting(
    keys={
        "email": User.email,
        "name": func.lower(User.name),
        "role": User.role,
        "group": select(func.lower(Group.name))
        .where(Group.id == User.group_id)
        .correlate(User)
        .scalar_subquery(),
        "status": User.status,
        "last_seen": User.last_seen_at,
        "created": User.created_at,
    },
    default="-created",
    tiebreak=User.id,
    search=(User.email, User.name),
)
"""The users table: its sort keys (newest first by default); its text filter is `text`."""


async def list_users(
    session: AsyncSession,
    *,
    status: str | None,
    role: str | None,
    group_id: uuid.UUID | None,
    text: str | None,
    limit: int | None,
    cursor: str | None,
    among: Sequence[Select[Any]] = (),
    excluding: Sequence[Select[Any]] = (),
    listing: ListQuery | None = None,
) -> Page[User]:
    stmt = _users()
    for ids in among:
        stmt = stmt.where(User.id.in_(ids))
    for ids in excluding:
        stmt = stmt.where(User.id.not_in(ids))
    if status is not None:
        stmt = stmt.where(User.status == status)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if group_id is not None:
        stmt = stmt.where(User.group_id == group_id)
    if text:
        pattern = contains_pattern(text)
        stmt = stmt.where(
            or_(
                User.email.like(pattern, escape="\\"),
                func.lower(User.name).like(pattern, escape="\\"),
            )
        )
    if listing is not None:
        return await page_sorted(session, stmt, listing, USER_SORTING)
    return await paginate(
        session, stmt, sort_time=User.created_at, sort_id=User.id, limit=limit, cursor=cursor
    )


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> Group | None:
    return await session.get(Group, group_id)


async def find_group_by_name(session: AsyncSession, name: str) -> Group | None:
    stmt = select(Group).where(Group.name_key == name.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def groups_by_name_key(session: AsyncSession) -> dict[str, Group]:
    return {g.name_key: g for g in (await session.execute(select(Group))).scalars()}


async def group_name_exists(
    session: AsyncSession, name_key: str, *, except_id: uuid.UUID | None = None
) -> bool:
    stmt = select(Group.id).where(Group.name_key == name_key)
    if except_id is not None:
        stmt = stmt.where(Group.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


GROUP_SORTING = Sorting(
    keys={
        "name": Group.name_key,
        "description": func.lower(Group.description),
        "members": select(func.count())
        .where(User.group_id == Group.id, User.status != "removed")
        .correlate(Group)
        .scalar_subquery(),
        "monthly_cap": Group.monthly_cap_micros,
        "member_cap": Group.member_monthly_cap_micros,
        "created": Group.created_at,
    },
    default="created",
    tiebreak=Group.id,
    search=(Group.name, Group.description),
)
"""The groups table: oldest first by default (the built-in `default` first)."""


async def list_groups(
    session: AsyncSession,
    *,
    text: str | None,
    limit: int | None,
    cursor: str | None,
    ids: Sequence[uuid.UUID] | None = None,
    listing: ListQuery | None = None,
) -> Page[Group]:
    where = []
    if ids is not None:
        where.append(Group.id.in_(list(ids)))
    if text:
        where.append(Group.name_key.like(contains_pattern(text), escape="\\"))
    if listing is not None:
        return await page_sorted(session, select(Group).where(*where), listing, GROUP_SORTING)
    return await page_rows(session, Group, *where, limit=limit, cursor=cursor, descending=False)


async def member_counts(
    session: AsyncSession, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not group_ids:
        return {}
    stmt = (
        select(User.group_id, func.count())
        .where(User.group_id.in_(list(group_ids)), User.status != "removed")
        .group_by(User.group_id)
    )
    return {gid: int(n) for gid, n in (await session.execute(stmt)).all()}


async def find_session_by_hash(session: AsyncSession, token_hash: str) -> UserSession | None:
    stmt = select(UserSession).where(UserSession.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def end_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, at: datetime, keep: uuid.UUID | None = None
) -> int:
    """End the user's live sessions (loaded, so objects in this unit of work see it too)."""
    stmt = select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    rows = list((await session.execute(stmt)).scalars())
    for row in rows:
        row.ended_at = at
    await session.flush()
    return len(rows)


async def find_setup_link_by_hash(
    session: AsyncSession, token_hash: str
) -> PasswordSetupLink | None:
    stmt = select(PasswordSetupLink).where(PasswordSetupLink.token_hash == token_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def retire_setup_links(session: AsyncSession, user_id: uuid.UUID, *, at: datetime) -> None:
    """Spend every unused setup link of the user (a newer link or a set password replaces them)."""
    stmt = select(PasswordSetupLink).where(
        PasswordSetupLink.user_id == user_id, PasswordSetupLink.used_at.is_(None)
    )
    for link in (await session.execute(stmt)).scalars():
        link.used_at = at
    await session.flush()


async def directory_users(
    session: AsyncSession,
    *,
    user_name: str | None,
    external_id: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[User]]:
    """Users that are not removed, oldest first, for SCIM: (total matching, one offset page)."""
    where: list[Any] = [User.status != "removed"]
    if user_name is not None:
        name = user_name.strip().lower()
        where.append(
            or_(
                func.lower(User.scim_user_name) == name,
                (User.scim_user_name.is_(None)) & (User.email == name),
            )
        )
    if external_id is not None:
        where.append(User.external_id == external_id)
    total = (await session.execute(select(func.count()).select_from(User).where(*where))).scalar()
    stmt = _users().where(*where).order_by(User.created_at, User.id).offset(offset).limit(limit)
    return int(total or 0), list((await session.execute(stmt)).scalars())


async def directory_id_taken(
    session: AsyncSession, *, external_id: str | None, user_name: str | None, except_id: uuid.UUID
) -> bool:
    clauses: list[Any] = []
    if external_id is not None:
        clauses.append(User.external_id == external_id)
    if user_name is not None:
        clauses.append(func.lower(User.scim_user_name) == user_name.lower())
        clauses.append(User.email == user_name.lower())
    if not clauses:
        return False
    stmt = select(User.id).where(or_(*clauses), User.id != except_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def directory_groups(
    session: AsyncSession, *, display_name: str | None, offset: int, limit: int
) -> tuple[int, list[Group]]:
    where: list[Any] = []
    if display_name is not None:
        where.append(Group.name_key == display_name.strip().lower())
    total = (await session.execute(select(func.count()).select_from(Group).where(*where))).scalar()
    stmt = select(Group).where(*where).order_by(Group.created_at, Group.id).offset(offset)
    return int(total or 0), list((await session.execute(stmt.limit(limit))).scalars())


async def group_members(
    session: AsyncSession, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[User]]:
    """The members (not removed) of each group, oldest first: those whose primary group it is
    and those who belong to it as a secondary group."""
    found: dict[uuid.UUID, list[User]] = {gid: [] for gid in group_ids}
    if not group_ids:
        return found
    wanted = list(group_ids)
    secondary = select(GroupMembership.user_id).where(GroupMembership.group_id.in_(wanted))
    stmt = (
        _users()
        .where(or_(User.group_id.in_(wanted), User.id.in_(secondary)), User.status != "removed")
        .order_by(User.created_at, User.id)
    )
    users = list((await session.execute(stmt)).scalars())
    rows = await session.execute(
        select(GroupMembership.user_id, GroupMembership.group_id).where(
            GroupMembership.group_id.in_(wanted)
        )
    )
    extra: dict[uuid.UUID, set[uuid.UUID]] = {}
    for user_id, group_id in rows.all():
        extra.setdefault(user_id, set()).add(group_id)
    for user in users:
        for group_id in {user.group_id, *extra.get(user.id, ())} & set(wanted):
            found[group_id].append(user)
    return found


async def find_known_device(session: AsyncSession, device_hash: str) -> KnownDevice | None:
    stmt = select(KnownDevice).where(KnownDevice.device_hash == device_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def has_known_device(session: AsyncSession, user_id: uuid.UUID) -> bool:
    stmt = select(KnownDevice.id).where(KnownDevice.user_id == user_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def live_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, now: datetime
) -> list[UserSession]:
    """The user's signed-in sessions that have not ended or expired, newest first."""
    stmt = (
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.expires_at > now,
            UserSession.second_factor_pending.is_(False),
        )
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
    )
    return list((await session.execute(stmt)).scalars())
