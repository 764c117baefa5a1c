"""The ledger's workflows: approval and recharge-request row locks, redemption codes and their
batches, low-balance notices due for delivery, and the PostgreSQL advisory lock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.repository import paginate_by_created
from spectra.kit.pagination import Page
from spectra.ledger.models import (
    CodeBatch,
    CodeStatus,
    LowBalanceNotice,
    RechargeApproval,
    RechargeRequest,
    RedemptionCode,
)

from ._common import dialect_of


async def lock_approval(session: AsyncSession, approval_id: uuid.UUID) -> RechargeApproval | None:
    stmt = (
        select(RechargeApproval)
        .where(RechargeApproval.id == approval_id)
        .execution_options(populate_existing=True)
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_request(session: AsyncSession, request_id: uuid.UUID) -> RechargeRequest | None:
    stmt = (
        select(RechargeRequest)
        .where(RechargeRequest.id == request_id)
        .execution_options(populate_existing=True)
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim_code(
    session: AsyncSession, *, code_hash: str, user_id: uuid.UUID, at: datetime
) -> bool:
    """Mark an unused code redeemed by `user_id`; False when another redemption won (or none)."""
    result = await session.execute(
        update(RedemptionCode)
        .where(RedemptionCode.code_hash == code_hash, RedemptionCode.status == CodeStatus.UNUSED)
        .values(status=CodeStatus.REDEEMED, redeemed_by_user_id=user_id, redeemed_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def find_code(session: AsyncSession, code_hash: str) -> RedemptionCode | None:
    stmt = (
        select(RedemptionCode)
        .where(RedemptionCode.code_hash == code_hash)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_unused(
    session: AsyncSession,
    *,
    batch_id: uuid.UUID,
    code_ids: Sequence[uuid.UUID] | None,
    at: datetime,
) -> int:
    stmt = update(RedemptionCode).where(
        RedemptionCode.batch_id == batch_id, RedemptionCode.status == CodeStatus.UNUSED
    )
    if code_ids is not None:
        stmt = stmt.where(RedemptionCode.id.in_(list(code_ids)))
    result = await session.execute(
        stmt.values(status=CodeStatus.REVOKED, revoked_at=at).execution_options(
            synchronize_session=False
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def batch_counts(
    session: AsyncSession, batch_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    rows = (
        await session.execute(
            select(RedemptionCode.batch_id, RedemptionCode.status, func.count())
            .where(RedemptionCode.batch_id.in_(list(batch_ids)))
            .group_by(RedemptionCode.batch_id, RedemptionCode.status)
        )
    ).all()
    out: dict[uuid.UUID, dict[str, int]] = {
        bid: {s.value: 0 for s in CodeStatus} for bid in batch_ids
    }
    for batch_id, status, count in rows:
        out[batch_id][status] = int(count)
    return out


async def list_batches(
    session: AsyncSession, *, limit: int | None, cursor: str | None
) -> Page[CodeBatch]:
    return await paginate_by_created(
        session, select(CodeBatch), CodeBatch, limit=limit, cursor=cursor
    )


async def due_notices(
    session: AsyncSession, *, now: datetime, limit: int = 50
) -> Sequence[LowBalanceNotice]:
    stmt = (
        select(LowBalanceNotice)
        .where(
            LowBalanceNotice.delivery == "pending",
            (LowBalanceNotice.next_attempt_at.is_(None))
            | (LowBalanceNotice.next_attempt_at <= now),
        )
        .order_by(LowBalanceNotice.created_at)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def pg_advisory_lock(session: AsyncSession, key: int) -> None:
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
