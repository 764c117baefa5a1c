"""Queries and inserts for usage records, price overrides and rollups (and the pool accounts,
groups and members the reports name)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.bulk import insert_rows
from spectra.db.listing import Sorting, page_sorted
from spectra.db.repository import paginate_by_created
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.pool.models import PoolAccount
from spectra.usage.models import PriceOverride, UsageRecord, UsageRollup
from spectra.usage.pricing import TOKEN_FIELDS
from spectra.users.models import Group, User


async def insert_records(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One bulk write (`db.bulk`: COPY on PostgreSQL, executemany on SQLite), no ORM
    unit-of-work bookkeeping."""
    await insert_rows(session, UsageRecord.__table__, rows)  # type: ignore[arg-type]


async def all_overrides(session: AsyncSession) -> Sequence[PriceOverride]:
    stmt = select(PriceOverride).order_by(PriceOverride.model, PriceOverride.effective_from)
    return (await session.execute(stmt)).scalars().all()


async def overrides_for(session: AsyncSession, model: str) -> Sequence[PriceOverride]:
    stmt = (
        select(PriceOverride)
        .where(PriceOverride.model == model)
        .order_by(PriceOverride.effective_from, PriceOverride.created_at)
    )
    return (await session.execute(stmt)).scalars().all()


def usage_query(
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    key_id: uuid.UUID | None = None,
    model: str | None = None,
    account_id: uuid.UUID | None = None,
    client: str | None = None,
    status: str | None = None,
    refusal_reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[Any]:
    equal = (
        (UsageRecord.user_id, user_id),
        (UsageRecord.group_id, group_id),
        (UsageRecord.key_id, key_id),
        (UsageRecord.model_requested, model),
        (UsageRecord.account_id, account_id),
        (UsageRecord.client_family, client),
        (UsageRecord.status, status),
        (UsageRecord.refusal_reason, refusal_reason),
    )
    stmt = select(UsageRecord)
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(UsageRecord.created_at >= since)
    if until is not None:
        stmt = stmt.where(UsageRecord.created_at < until)
    return stmt


_MEMBER_EMAIL = (
    select(User.email)
    .where(User.id == UsageRecord.user_id)
    .correlate(UsageRecord)
    .scalar_subquery()
)

RECORD_SORTING = Sorting(
    keys={
        "created_at": UsageRecord.created_at,
        "member": func.lower(_MEMBER_EMAIL),
        "model": func.lower(UsageRecord.model_requested),
        "client": func.lower(UsageRecord.client_family),
        "status": UsageRecord.status,
        "tokens": UsageRecord.input_tokens + UsageRecord.output_tokens,
        "searches": UsageRecord.web_search_calls,
        "cost": UsageRecord.cost_micros,
        "latency": UsageRecord.latency_ms,
    },
    default="-created_at",
    tiebreak=UsageRecord.id,
    search=(
        _MEMBER_EMAIL,
        UsageRecord.model_requested,
        UsageRecord.client_family,
        UsageRecord.status,
        UsageRecord.refusal_reason,
    ),
)
"""The usage records table: its sort keys (newest first by default), filtered by member,
model, client, status or refusal reason."""


async def page_usage(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    limit: int | None,
    cursor: str | None,
    listing: ListQuery | None = None,
) -> Page[UsageRecord]:
    if listing is not None:
        return await page_sorted(session, stmt, listing, RECORD_SORTING)
    return await paginate_by_created(session, stmt, UsageRecord, limit=limit, cursor=cursor)


async def pool_accounts(session: AsyncSession) -> list[PoolAccount]:
    stmt = select(PoolAccount).order_by(PoolAccount.name_key)
    return list((await session.execute(stmt)).scalars().all())


async def groups(session: AsyncSession) -> list[Group]:
    return list((await session.execute(select(Group).order_by(Group.name_key))).scalars().all())


async def members_of(session: AsyncSession, group_id: uuid.UUID) -> list[User]:
    stmt = select(User).where(User.group_id == group_id).order_by(User.email)
    return list((await session.execute(stmt)).scalars().all())


async def long_prompt_records(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    above: int,
    counted: Any,
) -> list[Any]:
    """Records created in [since, until), among those the rollups have counted (`counted`, a
    condition on `UsageRecord`), whose prompt (input + cache tokens) exceeds `above` tokens: the
    ones a long-context tier may price."""
    r = UsageRecord
    prompt = r.input_tokens + r.cache_read_tokens + r.cache_write_tokens
    stmt = select(
        r.created_at,
        r.account_id,
        r.model_requested,
        *(getattr(r, name) for name in TOKEN_FIELDS),
    ).where(r.created_at >= since, r.created_at < until, prompt > above, counted)
    return list((await session.execute(stmt)).all())


async def rollup_sums(
    session: AsyncSession,
    *,
    dimension: str,
    since: datetime,
    until: datetime | None = None,
    values: Sequence[str] | None = None,
    period: str = "hour",
    measures: Sequence[str] = ("cost_micros",),
    by_bucket: bool = False,
) -> list[Any]:
    """Sums of `measures` per dimension value (and bucket) over buckets starting in [since, until)."""
    keys: list[Any] = [UsageRollup.value]
    if by_bucket:
        keys.append(UsageRollup.bucket_start)
    cols = [func.sum(getattr(UsageRollup, m)).label(m) for m in measures]
    stmt = select(*keys, *cols).where(
        UsageRollup.period == period,
        UsageRollup.dimension == dimension,
        UsageRollup.bucket_start >= since,
    )
    if until is not None:
        stmt = stmt.where(UsageRollup.bucket_start < until)
    if values is not None:
        stmt = stmt.where(UsageRollup.value.in_(list(values)))
    return list((await session.execute(stmt.group_by(*keys))).all())
