"""Queries for packages, versions, assignments, periods and group defaults (the only SQL here).

Users and groups are looked up here by email and name (packages sits above users), until the
users domain offers lookups of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.repository import paginate_by_created
from spectra.kit.pagination import Page
from spectra.packages.models import (
    AssignmentStatus,
    GroupDefaultPackage,
    Package,
    PackageAssignment,
    PackagePeriod,
    PackageVersion,
)
from spectra.users.models import User


async def find_package_by_name(session: AsyncSession, name: str) -> Package | None:
    stmt = select(Package).where(Package.name_key == name.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_packages(
    session: AsyncSession, *, status: str | None, limit: int | None, cursor: str | None
) -> Page[Package]:
    stmt = select(Package)
    if status is not None:
        stmt = stmt.where(Package.status == status)
    return await paginate_by_created(
        session, stmt, Package, limit=limit, cursor=cursor, descending=False
    )


async def get_version(
    session: AsyncSession, package_id: uuid.UUID, version: int
) -> PackageVersion | None:
    stmt = select(PackageVersion).where(
        PackageVersion.package_id == package_id, PackageVersion.version == version
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_versions(session: AsyncSession, package_id: uuid.UUID) -> Sequence[PackageVersion]:
    stmt = (
        select(PackageVersion)
        .where(PackageVersion.package_id == package_id)
        .order_by(PackageVersion.version)
    )
    return (await session.execute(stmt)).scalars().all()


async def versions_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, PackageVersion]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (
        (await session.execute(select(PackageVersion).where(PackageVersion.id.in_(wanted))))
        .scalars()
        .all()
    )
    return {row.id: row for row in rows}


async def packages_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Package]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(Package).where(Package.id.in_(wanted)))).scalars().all()
    return {row.id: row for row in rows}


async def group_members(session: AsyncSession, group_id: uuid.UUID) -> Sequence[User]:
    stmt = (
        select(User).where(User.group_id == group_id, User.status == "active").order_by(User.email)
    )
    return (await session.execute(stmt)).scalars().all()


async def get_assignment(
    session: AsyncSession, assignment_id: uuid.UUID, *, lock: bool = False
) -> PackageAssignment | None:
    stmt = select(PackageAssignment).where(PackageAssignment.id == assignment_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def active_assignments_of_package(
    session: AsyncSession, package_id: uuid.UUID, *, user_ids: Iterable[uuid.UUID] | None = None
) -> Sequence[PackageAssignment]:
    stmt = select(PackageAssignment).where(
        PackageAssignment.package_id == package_id,
        PackageAssignment.status == AssignmentStatus.ACTIVE,
    )
    if user_ids is not None:
        stmt = stmt.where(PackageAssignment.user_id.in_(set(user_ids)))
    return (
        (await session.execute(stmt.order_by(PackageAssignment.created_at, PackageAssignment.id)))
        .scalars()
        .all()
    )


async def active_assignments(
    session: AsyncSession, *, user_ids: Iterable[uuid.UUID] | None = None
) -> Sequence[PackageAssignment]:
    stmt = select(PackageAssignment).where(PackageAssignment.status == AssignmentStatus.ACTIVE)
    if user_ids is not None:
        stmt = stmt.where(PackageAssignment.user_id.in_(set(user_ids)))
    return (
        (
            await session.execute(
                stmt.order_by(PackageAssignment.period_ends_at, PackageAssignment.id)
            )
        )
        .scalars()
        .all()
    )


async def list_assignments(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    package_id: uuid.UUID | None,
    status: str | None,
    limit: int | None,
    cursor: str | None,
) -> Page[PackageAssignment]:
    stmt = select(PackageAssignment)
    if user_id is not None:
        stmt = stmt.where(PackageAssignment.user_id == user_id)
    if package_id is not None:
        stmt = stmt.where(PackageAssignment.package_id == package_id)
    if status is not None:
        stmt = stmt.where(PackageAssignment.status == status)
    return await paginate_by_created(session, stmt, PackageAssignment, limit=limit, cursor=cursor)


async def due_assignment_ids(
    session: AsyncSession, now: datetime, *, limit: int
) -> Sequence[uuid.UUID]:
    """Active assignments with work to do: never granted and started, or whose period has ended."""
    stmt = (
        select(PackageAssignment.id)
        .where(
            PackageAssignment.status == AssignmentStatus.ACTIVE,
            (
                (PackageAssignment.period_ends_at.is_(None) & (PackageAssignment.starts_at <= now))
                | (PackageAssignment.period_ends_at <= now)
            ),
        )
        .order_by(PackageAssignment.period_ends_at, PackageAssignment.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def find_period(
    session: AsyncSession, assignment_id: uuid.UUID, index: int
) -> PackagePeriod | None:
    stmt = select(PackagePeriod).where(
        PackagePeriod.assignment_id == assignment_id, PackagePeriod.period_index == index
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_periods(
    session: AsyncSession, assignments: Sequence[PackageAssignment]
) -> dict[uuid.UUID, PackagePeriod]:
    """The current period row of each assignment that has one."""
    pairs = [(a.id, a.period_index) for a in assignments if a.period_index is not None]
    if not pairs:
        return {}
    stmt = select(PackagePeriod).where(PackagePeriod.assignment_id.in_({p[0] for p in pairs}))
    wanted = set(pairs)
    rows = (await session.execute(stmt)).scalars().all()
    return {r.assignment_id: r for r in rows if (r.assignment_id, r.period_index) in wanted}


async def list_periods(session: AsyncSession, assignment_id: uuid.UUID) -> Sequence[PackagePeriod]:
    stmt = (
        select(PackagePeriod)
        .where(PackagePeriod.assignment_id == assignment_id)
        .order_by(PackagePeriod.period_index)
    )
    return (await session.execute(stmt)).scalars().all()


async def count_active_assignments(session: AsyncSession, package_id: uuid.UUID) -> int:
    stmt = (
        select(func.count())
        .select_from(PackageAssignment)
        .where(
            PackageAssignment.package_id == package_id,
            PackageAssignment.status == AssignmentStatus.ACTIVE,
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def get_group_default(
    session: AsyncSession, group_id: uuid.UUID
) -> GroupDefaultPackage | None:
    return await session.get(GroupDefaultPackage, group_id)


async def list_group_defaults(session: AsyncSession) -> Sequence[GroupDefaultPackage]:
    return (await session.execute(select(GroupDefaultPackage))).scalars().all()


def holder_ids(package_id: uuid.UUID) -> Select[Any]:
    """The ids of users who hold the package now (an active assignment): a subquery."""
    return select(PackageAssignment.user_id).where(
        PackageAssignment.package_id == package_id,
        PackageAssignment.status == AssignmentStatus.ACTIVE,
    )


async def allowance_accounts_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The allowance accounts of every assignment the user ever had (active or not)."""
    stmt = select(PackageAssignment.allowance_account_id).where(
        PackageAssignment.user_id == user_id
    )
    return list((await session.execute(stmt)).scalars())
