"""Policy queries: its own table, plus the read-only facts the decision snapshot needs from the
tables of lower domains (wallet accounts, group names, package terms), read in bulk (the
rollout gates' usage measures are in `rollout_queries`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.listing import Sorting, page_sorted
from spectra.db.repository import page_rows
from spectra.keys.models import MemberKey
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.ledger.models import AccountKind, LedgerAccount
from spectra.packages.models import GroupDefaultPackage, Package, PackageVersion
from spectra.usage.models import PriceOverride, UsageRecord
from spectra.users.models import Group, GroupMembership, User

from .models import DraftStatus, GroupPolicy, MemberGrant, PolicyDraft, Rollout, RolloutCohort


@dataclass(frozen=True, slots=True)
class GroupRules:
    """A group's policy as plain values (defaults = no row: anything goes, both switches on)."""

    wallet_fallback: bool = True
    group_wallet_fallback: bool = True
    allowed_models: tuple[str, ...] = ()
    denied_models: tuple[str, ...] = ()
    allowed_clients: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    monthly_cap_micros: int | None = None
    member_monthly_cap_micros: int | None = None
    default_package: str | None = None


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
) -> dict[uuid.UUID, GroupRules]:
    """Every group's rules: its policy row (if any), its caps and its default package."""
    stmt = (
        select(Group, GroupPolicy, Package.name)
        .outerjoin(GroupPolicy, GroupPolicy.group_id == Group.id)
        .outerjoin(GroupDefaultPackage, GroupDefaultPackage.group_id == Group.id)
        .outerjoin(Package, Package.id == GroupDefaultPackage.package_id)
    )
    if group_ids is not None:
        stmt = stmt.where(Group.id.in_(list(group_ids)))
    out: dict[uuid.UUID, GroupRules] = {}
    for group, policy, default in (await session.execute(stmt)).all():
        out[group.id] = rules_of(group, policy, default)
    return out


def rules_of(group: Group, policy: GroupPolicy | None, default_package: str | None) -> GroupRules:
    caps = {
        "monthly_cap_micros": group.monthly_cap_micros,
        "member_monthly_cap_micros": group.member_monthly_cap_micros,
        "default_package": default_package,
    }
    if policy is None:
        return GroupRules(**caps)  # type: ignore[arg-type]
    return GroupRules(
        wallet_fallback=policy.is_wallet_fallback,
        group_wallet_fallback=policy.is_group_wallet_fallback,
        allowed_models=tuple(policy.allowed_models or ()),
        denied_models=tuple(policy.denied_models or ()),
        allowed_clients=tuple(policy.allowed_clients or ()),
        rpm=policy.rpm,
        tpm=policy.tpm,
        max_concurrent=policy.max_concurrent,
        monthly_cap_micros=group.monthly_cap_micros,
        member_monthly_cap_micros=group.member_monthly_cap_micros,
        default_package=default_package,
    )


async def member_grants(
    session: AsyncSession, user_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, tuple[str, ...]]:
    stmt = select(MemberGrant.user_id, MemberGrant.models)
    if user_ids is not None:
        stmt = stmt.where(MemberGrant.user_id.in_(list(user_ids)))
    return {u: tuple(m or ()) for u, m in (await session.execute(stmt)).all() if m}


async def get_member_grant(session: AsyncSession, user_id: uuid.UUID) -> MemberGrant | None:
    return await session.get(MemberGrant, user_id)


async def _spend_by(
    session: AsyncSession, column: Any, since: datetime, ids: Sequence[uuid.UUID] | None
) -> dict[uuid.UUID, int]:
    """Charged cost since `since` by `column` (a usage record's owner id), micros."""
    stmt = select(column, func.sum(UsageRecord.cost_micros)).where(
        UsageRecord.created_at >= since, column.is_not(None)
    )
    if ids is not None:
        stmt = stmt.where(column.in_(list(ids)))
    rows = (await session.execute(stmt.group_by(column))).all()
    return {k: int(total or 0) for k, total in rows if k is not None}


async def spend_since(
    session: AsyncSession,
    since: datetime,
    *,
    group_ids: Sequence[uuid.UUID] | None = None,
    user_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """Charged cost since `since` from usage records: (by group, by member), micros."""
    groups = await _spend_by(session, UsageRecord.group_id, since, group_ids)
    members = await _spend_by(session, UsageRecord.user_id, since, user_ids)
    return groups, members


async def key_spend_since(
    session: AsyncSession, since: datetime, key_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, int]:
    """Charged cost since `since` by key, micros (the key budgets' counters)."""
    return await _spend_by(session, UsageRecord.key_id, since, key_ids)


async def project_spend_since(
    session: AsyncSession, since: datetime, project_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, int]:
    """Charged cost since `since` by project, micros (the project budgets' counters)."""
    return await _spend_by(session, UsageRecord.project_id, since, project_ids)


async def users_in(
    session: AsyncSession,
    *,
    user_ids: Sequence[uuid.UUID] = (),
    group_ids: Sequence[uuid.UUID] = (),
) -> list[User]:
    """Users named, plus every member of the groups named (any status), by email."""
    if not user_ids and not group_ids:
        return []
    cond = []
    if user_ids:
        cond.append(User.id.in_(list(user_ids)))
    if group_ids:
        cond.append(User.group_id.in_(list(group_ids)))
    stmt = select(User).where(or_(*cond)).order_by(User.email)
    return list((await session.execute(stmt)).scalars().all())


async def members_of(session: AsyncSession, group_ids: Sequence[uuid.UUID]) -> list[User]:
    """Every member of the groups (any status), by email: those whose primary group it is and
    those who belong to it as one of their other groups (a member may be in several)."""
    if not group_ids:
        return []
    wanted = list(group_ids)
    secondary = select(GroupMembership.user_id).where(GroupMembership.group_id.in_(wanted))
    stmt = (
        select(User)
        .where(or_(User.group_id.in_(wanted), User.id.in_(secondary)))
        .order_by(User.email)
    )
    return list((await session.execute(stmt)).scalars().all())


async def all_group_ids(session: AsyncSession) -> list[uuid.UUID]:
    return list((await session.execute(select(Group.id).order_by(Group.name_key))).scalars())


async def scoped_keys(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, tuple[str, ...]]]:
    """Every key of these users: key id -> (user id, scopes), revoked ones included (a past
    request is judged through the key it came with)."""
    if not user_ids:
        return {}
    stmt = select(MemberKey.id, MemberKey.user_id, MemberKey.scopes).where(
        MemberKey.user_id.in_(list(user_ids))
    )
    return {k: (u, tuple(s or ())) for k, u, s in (await session.execute(stmt)).all()}


async def active_keys(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, tuple[str, ...]]]:
    """(key id, user id, scopes) of the users' usable keys."""
    if not user_ids:
        return []
    stmt = select(MemberKey.id, MemberKey.user_id, MemberKey.scopes).where(
        MemberKey.user_id.in_(list(user_ids)),
        MemberKey.status == "active",
        MemberKey.revoked_at.is_(None),
    )
    return [(k, u, tuple(s or ())) for k, u, s in (await session.execute(stmt)).all()]


async def records_since(
    session: AsyncSession, since: datetime, user_ids: Sequence[uuid.UUID]
) -> list[UsageRecord]:
    """The usage records of these users since `since`, oldest first."""
    if not user_ids:
        return []
    stmt = (
        select(UsageRecord)
        .where(UsageRecord.created_at >= since, UsageRecord.user_id.in_(list(user_ids)))
        .order_by(UsageRecord.created_at, UsageRecord.id)
    )
    return list((await session.execute(stmt)).scalars().all())


async def get_rollout(session: AsyncSession, ref: str, *, lock: bool = False) -> Rollout | None:
    stmt = select(Rollout)
    try:
        stmt = stmt.where(Rollout.id == uuid.UUID(ref))
    except ValueError:
        stmt = stmt.where(Rollout.name == ref)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def cohorts_of(session: AsyncSession, rollout_id: uuid.UUID) -> list[RolloutCohort]:
    stmt = (
        select(RolloutCohort)
        .where(RolloutCohort.rollout_id == rollout_id)
        .order_by(RolloutCohort.position)
    )
    return list((await session.execute(stmt)).scalars().all())


async def get_cohort(session: AsyncSession, cohort_id: uuid.UUID) -> RolloutCohort | None:
    return await session.get(RolloutCohort, cohort_id)


async def page_rollouts(
    session: AsyncSession, *, limit: int | None, cursor: str | None
) -> Page[Rollout]:
    return await page_rows(session, Rollout, limit=limit, cursor=cursor)


async def get_draft(session: AsyncSession, draft_id: uuid.UUID) -> PolicyDraft | None:
    return await session.get(PolicyDraft, draft_id)


DRAFT_SORTING = Sorting(
    keys={
        "target": func.lower(PolicyDraft.target_label),
        "kind": PolicyDraft.kind,
        "status": PolicyDraft.status,
        "dry_run_at": PolicyDraft.dry_run_at,
        "created_at": PolicyDraft.created_at,
        "by": func.lower(PolicyDraft.created_by),
    },
    default="-created_at",
    tiebreak=PolicyDraft.id,
    search=(PolicyDraft.target_label, PolicyDraft.kind, PolicyDraft.created_by),
)
"""The drafts table: newest first by default, filtered by target, kind or author."""


async def page_drafts(
    session: AsyncSession,
    *,
    status: str | None,
    limit: int | None,
    cursor: str | None,
    listing: ListQuery | None = None,
) -> Page[PolicyDraft]:
    where = [PolicyDraft.status == status] if status is not None else []
    if listing is not None:
        return await page_sorted(session, select(PolicyDraft).where(*where), listing, DRAFT_SORTING)
    return await page_rows(session, PolicyDraft, *where, limit=limit, cursor=cursor)


async def open_drafts(
    session: AsyncSession, *, kind: str, target_id: uuid.UUID
) -> list[PolicyDraft]:
    """The drafts of `kind` about `target_id` still waiting for a decision, newest first."""
    stmt = (
        select(PolicyDraft)
        .where(
            PolicyDraft.status == DraftStatus.DRAFT,
            PolicyDraft.kind == kind,
            PolicyDraft.target_id == target_id,
        )
        .order_by(PolicyDraft.created_at.desc())
    )
    return list((await session.execute(stmt)).scalars())


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


async def priced_models(session: AsyncSession) -> list[str]:
    """Models with an admin price."""
    stmt = select(PriceOverride.model).distinct().order_by(PriceOverride.model)
    return list((await session.execute(stmt)).scalars())
