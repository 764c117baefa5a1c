"""Queries of the second-factor rows (conditional updates make single use race-free)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import RecoveryCode, TotpFactor


async def find_totp(session: AsyncSession, user_id: uuid.UUID) -> TotpFactor | None:
    stmt = select(TotpFactor).where(TotpFactor.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def advance_totp_step(session: AsyncSession, factor_id: uuid.UUID, step: int) -> bool:
    """Record `step` as the last accepted one, only if it is newer (False: a replay)."""
    stmt = (
        update(TotpFactor)
        .where(TotpFactor.id == factor_id)
        .where((TotpFactor.last_step.is_(None)) | (TotpFactor.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def spend_recovery_code(
    session: AsyncSession, user_id: uuid.UUID, code_hash: str, *, at: datetime
) -> bool:
    stmt = (
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id)
        .where(RecoveryCode.code_hash == code_hash)
        .where(RecoveryCode.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def recovery_codes_left(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def delete_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_factors(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Remove every second factor of a user; how many of each went."""
    totp = await session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    codes = await delete_recovery_codes(session, user_id)
    return {
        "totp": int(totp.rowcount),  # type: ignore[attr-defined]
        "recovery_codes": codes,
    }


async def has_factor(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """A confirmed authenticator app."""
    factor = await find_totp(session, user_id)
    return factor is not None and factor.confirmed_at is not None
