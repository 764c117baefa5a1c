"""Queries of the budgets domain (the only place that selects its rows)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.listing import Sorting, page_sorted
from spectra.db.repository import paginate_by_created
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.usage.models import UsageRecord

from .models import BudgetExtension, KeyBudget, Project, ProjectKey, ProjectMember


async def key_budgets(session: AsyncSession) -> Sequence[KeyBudget]:
    return (await session.execute(select(KeyBudget))).scalars().all()


async def key_budgets_of(
    session: AsyncSession, key_ids: Sequence[uuid.UUID] | None
) -> Sequence[KeyBudget]:
    stmt = select(KeyBudget).order_by(KeyBudget.updated_at.desc(), KeyBudget.key_id)
    if key_ids is not None:
        stmt = stmt.where(KeyBudget.key_id.in_(list(key_ids)))
    return (await session.execute(stmt)).scalars().all()


async def active_projects(session: AsyncSession) -> Sequence[Project]:
    stmt = select(Project).where(Project.status == "active").order_by(Project.name)
    return (await session.execute(stmt)).scalars().all()


async def project_by_name(session: AsyncSession, name: str) -> Project | None:
    stmt = select(Project).where(Project.name == name, Project.status == "active")
    return (await session.execute(stmt)).scalars().first()


async def page_projects(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    limit: int | None,
    cursor: str | None,
) -> Page[Project]:
    stmt = select(Project).where(Project.status == "active")
    if user_id is not None:
        members = select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
        stmt = stmt.where(Project.id.in_(members))
    return await paginate_by_created(
        session, stmt, Project, limit=limit, cursor=cursor, descending=False
    )


async def project_members(
    session: AsyncSession, project_ids: Sequence[uuid.UUID] | None = None
) -> Sequence[ProjectMember]:
    stmt = select(ProjectMember)
    if project_ids is not None:
        stmt = stmt.where(ProjectMember.project_id.in_(list(project_ids)))
    return (await session.execute(stmt)).scalars().all()


async def project_keys(
    session: AsyncSession, project_ids: Sequence[uuid.UUID] | None = None
) -> Sequence[ProjectKey]:
    stmt = select(ProjectKey)
    if project_ids is not None:
        stmt = stmt.where(ProjectKey.project_id.in_(list(project_ids)))
    return (await session.execute(stmt)).scalars().all()


async def approved_extensions(session: AsyncSession, now: datetime) -> Sequence[BudgetExtension]:
    stmt = select(BudgetExtension).where(
        BudgetExtension.status == "approved", BudgetExtension.expires_at > now
    )
    return (await session.execute(stmt)).scalars().all()


EXTENSION_SORTING = Sorting(
    keys={
        "asked": BudgetExtension.created_at,
        "by": func.lower(BudgetExtension.requested_by_label),
        "amount": BudgetExtension.amount_micros,
        "reason": func.lower(BudgetExtension.reason),
        "status": BudgetExtension.status,
    },
    default="-asked",
    tiebreak=BudgetExtension.id,
    search=(
        BudgetExtension.requested_by_label,
        BudgetExtension.reason,
        BudgetExtension.status,
    ),
)
"""The extension requests table: newest first by default."""


async def page_extensions(
    session: AsyncSession,
    *,
    status: str | None,
    key_ids: Sequence[uuid.UUID] | None,
    requested_by_id: uuid.UUID | None,
    limit: int | None,
    cursor: str | None,
    requested_by_among: Select[Any] | None = None,
    listing: ListQuery | None = None,
) -> Page[BudgetExtension]:
    """`requested_by_among` (a subquery of user ids) widens `requested_by_id` to those too;
    `listing` answers one offset page in its sort and text filter instead of a keyset page."""
    stmt = select(BudgetExtension)
    if status is not None:
        stmt = stmt.where(BudgetExtension.status == status)
    if requested_by_among is not None:
        stmt = stmt.where(
            or_(
                BudgetExtension.requested_by_id == requested_by_id,
                BudgetExtension.requested_by_id.in_(requested_by_among),
            )
        )
    elif requested_by_id is not None:
        stmt = stmt.where(BudgetExtension.requested_by_id == requested_by_id)
    if key_ids is not None:
        stmt = stmt.where(BudgetExtension.key_id.in_(list(key_ids)))
    if listing is not None:
        return await page_sorted(session, stmt, listing, EXTENSION_SORTING)
    return await paginate_by_created(session, stmt, BudgetExtension, limit=limit, cursor=cursor)


async def project_usage(
    session: AsyncSession,
    project_id: uuid.UUID,
    *,
    since: datetime | None,
    until: datetime | None,
    by: str,
) -> list[tuple[str, int, int, list[list[dict[str, object]]]]]:
    """Usage attributed to a project, grouped by `user` or `model`: (value, requests, cost
    micros, the records' funding lists), straight from the usage records (exact)."""
    column = UsageRecord.user_id if by == "user" else UsageRecord.model_requested
    stmt = select(column, UsageRecord.cost_micros, UsageRecord.funding).where(
        UsageRecord.project_id == project_id
    )
    if since is not None:
        stmt = stmt.where(UsageRecord.created_at >= since)
    if until is not None:
        stmt = stmt.where(UsageRecord.created_at < until)
    grouped: dict[str, tuple[int, int, list[list[dict[str, object]]]]] = {}
    for value, cost, funding in (await session.execute(stmt)).all():
        key = "" if value is None else str(value)
        requests, total, fundings = grouped.get(key, (0, 0, []))
        fundings.append(list(funding or []))
        grouped[key] = (requests + 1, total + int(cost or 0), fundings)
    return [(k, r, c, f) for k, (r, c, f) in grouped.items()]


async def project_names(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    stmt = select(Project.id, Project.name).where(Project.id.in_(list(ids)))
    return {row.id: row.name for row in (await session.execute(stmt)).all()}


async def project_budgets(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int | None]:
    """Each project's monthly budget (None: no budget)."""
    stmt = select(Project.id, Project.monthly_budget_micros).where(Project.id.in_(list(ids)))
    return {row.id: row.monthly_budget_micros for row in (await session.execute(stmt)).all()}
