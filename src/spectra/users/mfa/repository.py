"""Queries of the second-factor rows (conditional updates make single use race-free)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Passkey, RecoveryCode, TotpFactor, WebauthnChallenge


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


async def list_passkeys(session: AsyncSession, user_id: uuid.UUID) -> list[Passkey]:
    stmt = select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
    return list((await session.execute(stmt)).scalars())


async def find_passkey(session: AsyncSession, credential_id: str) -> Passkey | None:
    stmt = select(Passkey).where(Passkey.credential_id == credential_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_passkeys(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(Passkey.user_id == user_id)
    return int((await session.execute(stmt)).scalar_one())


async def delete_factors(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Remove every second factor of a user; how many of each went."""
    totp = await session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    keys = await session.execute(delete(Passkey).where(Passkey.user_id == user_id))
    codes = await delete_recovery_codes(session, user_id)
    return {
        "totp": int(totp.rowcount),  # type: ignore[attr-defined]
        "passkeys": int(keys.rowcount),  # type: ignore[attr-defined]
        "recovery_codes": codes,
    }


async def spend_challenge(
    session: AsyncSession, challenge_hash: str, *, purpose: str, at: datetime
) -> WebauthnChallenge | None:
    """The unexpired, unused challenge behind the hash, marked used now; None otherwise."""
    stmt = select(WebauthnChallenge).where(WebauthnChallenge.challenge_hash == challenge_hash)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None or row.purpose != purpose or row.expires_at <= at:
        return None
    spent = await session.execute(
        update(WebauthnChallenge)
        .where(WebauthnChallenge.id == row.id, WebauthnChallenge.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return row if spent.rowcount else None  # type: ignore[attr-defined]


async def has_factor(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """A confirmed authenticator app or at least one passkey."""
    factor = await find_totp(session, user_id)
    if factor is not None and factor.confirmed_at is not None:
        return True
    return await count_passkeys(session, user_id) > 0
