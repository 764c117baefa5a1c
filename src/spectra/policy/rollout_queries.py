"""The rollout gates' and autopilot's queries: a cohort's usage measures over a window (counts,
client families, latencies) and the candidates the autopilot looks at."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.usage.models import UsageRecord
from spectra.users.models import User

from .models import Rollout


async def usage_counts(
    session: AsyncSession, user_ids: list[uuid.UUID], since: datetime, until: datetime
) -> dict[str, int]:
    """Requests, refusals, errors, active members and spend of these users over [since, until)."""
    if not user_ids:
        return {"requests": 0, "refused": 0, "errors": 0, "active": 0, "spend": 0}
    stmt = select(
        func.count(),
        func.sum(_is_status("refused")),
        func.sum(_is_status("error")),
        func.count(func.distinct(UsageRecord.user_id)),
        func.sum(UsageRecord.cost_micros),
    ).where(
        UsageRecord.user_id.in_(user_ids),
        UsageRecord.created_at >= since,
        UsageRecord.created_at < until,
    )
    requests, refused, errors, active, spend = (await session.execute(stmt)).one()
    return {
        "requests": int(requests or 0),
        "refused": int(refused or 0),
        "errors": int(errors or 0),
        "active": int(active or 0),
        "spend": int(spend or 0),
    }


async def usage_clients(
    session: AsyncSession, user_ids: list[uuid.UUID], since: datetime, until: datetime
) -> dict[str, int]:
    """Requests per client family of these users over [since, until)."""
    if not user_ids:
        return {}
    stmt = (
        select(UsageRecord.client_family, func.count())
        .where(
            UsageRecord.user_id.in_(user_ids),
            UsageRecord.created_at >= since,
            UsageRecord.created_at < until,
        )
        .group_by(UsageRecord.client_family)
    )
    return {c: int(n) for c, n in (await session.execute(stmt)).all()}


def _is_status(status: str) -> Any:
    return case((UsageRecord.status == status, 1), else_=0)


async def usage_latencies(
    session: AsyncSession,
    user_ids: list[uuid.UUID],
    since: datetime,
    until: datetime,
    *,
    limit: int = 50_000,
) -> list[int]:
    """Latencies (ms) of these users' records over [since, until) that have one, newest first."""
    if not user_ids:
        return []
    stmt = (
        select(UsageRecord.latency_ms)
        .where(
            UsageRecord.user_id.in_(user_ids),
            UsageRecord.created_at >= since,
            UsageRecord.created_at < until,
            UsageRecord.latency_ms.is_not(None),
        )
        .order_by(UsageRecord.created_at.desc())
        .limit(limit)
    )
    return [int(v) for v in (await session.execute(stmt)).scalars() if v is not None]


async def usable_user_ids(session: AsyncSession, statuses: Sequence[str]) -> list[uuid.UUID]:
    stmt = select(User.id).where(User.status.in_(list(statuses)))
    return list((await session.execute(stmt)).scalars())


async def autopilot_rollout_ids(session: AsyncSession) -> list[uuid.UUID]:
    stmt = (
        select(Rollout.id)
        .where(Rollout.autopilot.is_(True), Rollout.status != "completed")
        .order_by(Rollout.created_at)
    )
    return list((await session.execute(stmt)).scalars())
