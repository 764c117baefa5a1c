"""Queries and inserts for usage records and price overrides."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.repository import paginate
from spectra.kit.pagination import Page
from spectra.usage.models import PriceOverride, UsageRecord


async def insert_records(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT (executemany), no ORM unit-of-work bookkeeping."""
    if rows:
        await session.execute(insert(UsageRecord), list(rows))


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
    stmt = select(UsageRecord)
    if user_id is not None:
        stmt = stmt.where(UsageRecord.user_id == user_id)
    if group_id is not None:
        stmt = stmt.where(UsageRecord.group_id == group_id)
    if key_id is not None:
        stmt = stmt.where(UsageRecord.key_id == key_id)
    if model is not None:
        stmt = stmt.where(UsageRecord.model_requested == model)
    if account_id is not None:
        stmt = stmt.where(UsageRecord.account_id == account_id)
    if client is not None:
        stmt = stmt.where(UsageRecord.client_family == client)
    if status is not None:
        stmt = stmt.where(UsageRecord.status == status)
    if refusal_reason is not None:
        stmt = stmt.where(UsageRecord.refusal_reason == refusal_reason)
    if since is not None:
        stmt = stmt.where(UsageRecord.created_at >= since)
    if until is not None:
        stmt = stmt.where(UsageRecord.created_at < until)
    return stmt


async def page_usage(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    limit: int | None,
    cursor: str | None,
) -> Page[UsageRecord]:
    return await paginate(
        session,
        stmt,
        sort_time=UsageRecord.created_at,
        sort_id=UsageRecord.id,
        limit=limit,
        cursor=cursor,
    )
