"""Policy queries: its own table, plus the read-only facts the decision snapshot needs from the
tables of lower domains (wallet accounts, group names, package terms), read in bulk."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.ledger.models import AccountKind, LedgerAccount
from spectra.packages.models import Package, PackageVersion
from spectra.users.models import Group

from .models import GroupPolicy


@dataclass(frozen=True, slots=True)
class VersionTerms:
    package_id: uuid.UUID
    package_name: str
    package_status: str
    is_current: bool
    version: int
    allowance_micros: int
    model_patterns: tuple[str, ...]


async def get_group_policy(session: AsyncSession, group_id: uuid.UUID) -> GroupPolicy | None:
    return await session.get(GroupPolicy, group_id)


async def group_policies(
    session: AsyncSession, group_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, tuple[bool, bool]]:
    stmt = select(
        GroupPolicy.group_id, GroupPolicy.is_wallet_fallback, GroupPolicy.is_group_wallet_fallback
    )
    if group_ids is not None:
        stmt = stmt.where(GroupPolicy.group_id.in_(list(group_ids)))
    return {gid: (w, g) for gid, w, g in (await session.execute(stmt)).all()}


async def group_names(
    session: AsyncSession, group_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    stmt = select(Group.id, Group.name)
    if group_ids is not None:
        stmt = stmt.where(Group.id.in_(list(group_ids)))
    return dict((await session.execute(stmt)).all())


async def wallet_accounts(
    session: AsyncSession,
    *,
    owner_ids: Sequence[uuid.UUID] | None = None,
    account_ids: Sequence[uuid.UUID] | None = None,
) -> list[tuple[uuid.UUID, str, uuid.UUID]]:
    """(account id, kind, owner id) of user and group wallets."""
    stmt = select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.owner_id).where(
        LedgerAccount.kind.in_([AccountKind.USER_WALLET.value, AccountKind.GROUP_WALLET.value])
    )
    if owner_ids is not None:
        stmt = stmt.where(LedgerAccount.owner_id.in_(list(owner_ids)))
    if account_ids is not None:
        stmt = stmt.where(LedgerAccount.id.in_(list(account_ids)))
    return [(a, k, o) for a, k, o in (await session.execute(stmt)).all() if o is not None]


async def package_terms(session: AsyncSession) -> list[VersionTerms]:
    """Every version of every package (the catalog is small)."""
    stmt = select(
        Package.id,
        Package.name,
        Package.status,
        Package.current_version,
        PackageVersion.version,
        PackageVersion.allowance_micros,
        PackageVersion.model_patterns,
    ).join(PackageVersion, PackageVersion.package_id == Package.id)
    return [
        VersionTerms(
            pid, name, status, current == version, version, allowance, tuple(patterns or ())
        )
        for pid, name, status, current, version, allowance, patterns in (
            await session.execute(stmt)
        ).all()
    ]
