"""Admin recharges of user and group wallets, with a maximum and four-eyes approval above a threshold."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.kit.money import format_amount
from spectra.ledger.errors import (
    IdempotencyConflictError,
    MemoRequiredError,
    RechargeLimitExceededError,
)
from spectra.ledger.models import (
    AccountKind,
    ApprovalStatus,
    LedgerAccount,
    LedgerTransaction,
    RechargeApproval,
    TransactionKind,
)
from spectra.users.permissions import Permission, require

from ._common import positive, replayed, workspace_settings
from .accounts import get_or_create_account, wallet_account
from .post import post


@dataclass(frozen=True, slots=True)
class RechargeOutcome:
    """Either the credit was written (`transaction`) or it waits for a second approver (`approval`)."""

    account: LedgerAccount
    transaction: LedgerTransaction | None = None
    approval: RechargeApproval | None = None

    @property
    def status(self) -> str:
        return "credited" if self.transaction is not None else "pending_approval"


async def recharge(
    session: AsyncSession,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    amount: int,
    memo: str,
    idempotency_key: str,
) -> RechargeOutcome:
    """Credit a wallet from funding. Idempotent on `idempotency_key`. Above the workspace's
    four-eyes threshold it opens a pending approval instead. Writes an audit event."""
    require(actor, Permission.LEDGER_RECHARGE)
    positive(amount)
    memo = memo.strip()
    if not memo:
        raise MemoRequiredError("A recharge needs a memo that says why.")
    ws = await workspace_settings(session)
    if ws.max_recharge_micros is not None and amount > ws.max_recharge_micros:
        raise RechargeLimitExceededError(
            f"A single recharge may be at most {format_amount(ws.max_recharge_micros)} {ws.currency}; "
            "split it or ask an owner to raise max_recharge.",
            max_micros=ws.max_recharge_micros,
            amount_micros=amount,
        )
    wallet = await wallet_account(session, user_id=user_id, group_id=group_id)
    pending = await _approval_by_key(session, idempotency_key)
    if pending is not None:
        if pending.account_id != wallet.id or pending.amount_micros != amount:
            raise IdempotencyConflictError(
                "This idempotency key was already used for a different recharge.",
                idempotency_key=idempotency_key,
            )
        return RechargeOutcome(account=wallet, approval=pending)
    if ws.four_eyes_threshold_micros is not None and amount > ws.four_eyes_threshold_micros:
        approval = RechargeApproval(
            account_id=wallet.id,
            amount_micros=amount,
            memo=memo,
            idempotency_key=idempotency_key,
            status=ApprovalStatus.PENDING,
            requested_by_identity=actor.identity,
            requested_by_label=actor.label,
        )
        session.add(approval)
        await session.flush()
        await audit_service.record(
            session,
            actor,
            "ledger.recharge.request_approval",
            target_type="ledger_account",
            target_id=wallet.id,
            target_label=_label(wallet),
            after={"amount": format_amount(amount), "status": "pending"},
            approval_id=str(approval.id),
            memo=memo,
        )
        return RechargeOutcome(account=wallet, approval=approval)
    key = f"recharge:{idempotency_key}"
    again = await replayed(session, key)
    funding = await get_or_create_account(session, kind=AccountKind.FUNDING)
    txn = await post(
        session,
        actor,
        kind=TransactionKind.RECHARGE,
        postings=[(funding.id, -amount), (wallet.id, amount)],
        idempotency_key=key,
        memo=memo,
        metadata={"requested_by": actor.label},
    )
    if again is None:
        await audit_service.record(
            session,
            actor,
            "ledger.recharge",
            target_type="ledger_account",
            target_id=wallet.id,
            target_label=_label(wallet),
            before={"balance": format_amount(wallet.balance_micros - amount)},
            after={"balance": format_amount(wallet.balance_micros)},
            amount=format_amount(amount),
            transaction_id=str(txn.id),
            memo=memo,
        )
    return RechargeOutcome(account=wallet, transaction=txn)


async def _approval_by_key(session: AsyncSession, key: str) -> RechargeApproval | None:
    stmt = select(RechargeApproval).where(RechargeApproval.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


def _label(account: LedgerAccount) -> str:
    return f"{account.kind}:{account.owner_id}" if account.owner_id else account.kind
