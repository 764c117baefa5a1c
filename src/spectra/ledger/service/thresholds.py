"""Low-balance thresholds per user and per group wallet, and the notices their crossings recorded."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.repository import paginate_by_created
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidAmountError
from spectra.kit.money import format_amount
from spectra.kit.pagination import Page
from spectra.ledger.models import LowBalanceNotice, LowBalanceThreshold
from spectra.users.permissions import Permission, require

from .accounts import wallet_account


async def set_low_balance_threshold(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    threshold: int | None,
) -> LowBalanceThreshold:
    """Set (or with None, silence) a wallet's low-balance threshold. Writes an audit event."""
    require(actor, Permission.BUDGETS_WRITE)
    if threshold is not None and threshold < 0:
        raise InvalidAmountError("A threshold must not be negative.", field="threshold")
    wallet = await wallet_account(session, user_id=user_id, group_id=group_id)
    row = await session.get(LowBalanceThreshold, wallet.id)
    before = None if row is None else row.threshold_micros
    if row is None:
        row = LowBalanceThreshold(
            account_id=wallet.id, threshold_micros=threshold, updated_by=actor.label
        )
        session.add(row)
    else:
        row.threshold_micros = threshold
        row.updated_by = actor.label
    await session.flush()
    await audit_service.record(
        session,
        actor,
        "ledger.threshold.set",
        target_type="ledger_account",
        target_id=wallet.id,
        target_label=f"{wallet.kind}:{wallet.owner_id}",
        before={"threshold": _show(before)},
        after={"threshold": _show(threshold)},
    )
    return row


async def list_notices(
    session: AnySession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> Page[LowBalanceNotice]:
    require(actor, Permission.READ_ALL)
    return await paginate_by_created(
        session, select(LowBalanceNotice), LowBalanceNotice, limit=limit, cursor=cursor
    )


def _show(micros: int | None) -> str:
    return "none" if micros is None else format_amount(micros)
