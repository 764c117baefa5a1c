"""Adjustments (a debit or credit with a reason) and transfers between wallets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import AnySession, Session
from spectra.errors import InvalidAmountError, InvalidError
from spectra.kit.money import format_amount
from spectra.ledger.errors import TransferInvalidError
from spectra.ledger.models import (
    AccountKind,
    ApprovalOperation,
    LedgerAccount,
    LedgerTransaction,
    TransactionKind,
)
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require
from spectra.users.scope import Scope, deny, lead_groups_over, require_within_limit, scope_for

from ._common import bounded, positive
from .accounts import get_or_create_account, wallet_account
from .four_eyes import RechargeOutcome, credit_waits, hold_for_approval, scoped_key
from .post import post_between


async def adjust(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    amount: int,
    reason: str,
    idempotency_key: str,
) -> RechargeOutcome:
    """Credit (amount > 0) or debit (amount < 0) a wallet against the adjustments account. A debit
    may not take the wallet below zero; a credit creates money, so the four-eyes rule may make it
    wait for a second approver. Idempotent on `idempotency_key` (scoped to the actor). Writes an
    audit event."""
    require(actor, Permission.LEDGER_ADJUST)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmountError("An adjustment must be a non-zero amount.", field="amount")
    bounded(amount)
    reason = reason.strip()
    if not reason:
        raise InvalidError("An adjustment needs a reason.", field="reason")
    wallet = await wallet_account(session, user_id=user_id, group_id=group_id)
    key = scoped_key(actor, "adjust", idempotency_key)
    if amount > 0:
        waits = await credit_waits(
            session,
            actor,
            operation=ApprovalOperation.ADJUST,
            wallet=wallet,
            amount=amount,
            memo=reason,
            key=key,
        )
        if waits is not None:
            return waits
    txn = await apply_adjust(session, actor, wallet=wallet, amount=amount, reason=reason, key=key)
    return RechargeOutcome(account=wallet, transaction=txn)


async def apply_adjust(
    session: Session,
    actor: Actor,
    *,
    wallet: LedgerAccount,
    amount: int,
    reason: str,
    key: str,
    metadata: dict[str, str] | None = None,
) -> LedgerTransaction:
    """Write the adjustment; a debit may not take the wallet below zero. Audited once."""
    adjustments = await get_or_create_account(session, kind=AccountKind.ADJUSTMENTS)
    before = wallet.balance_micros
    txn, new = await post_between(
        session,
        actor,
        kind=TransactionKind.ADJUSTMENT,
        source=adjustments,
        target=wallet,
        amount=amount,
        memo=reason,
        key=key,
        metadata=metadata,
        guarded=wallet if amount < 0 else None,
        refusal=lambda available: (
            f"The wallet holds {format_amount(available)}; a debit of {format_amount(-amount)} would take it below zero."
        ),
    )
    if new:
        await audit_service.record(
            session,
            actor,
            "ledger.adjust",
            target_type="ledger_account",
            target_id=wallet.id,
            target_label=f"{wallet.kind}:{wallet.owner_id}",
            before={"balance": format_amount(before)},
            after={"balance": format_amount(wallet.balance_micros)},
            amount=format_amount(amount),
            reason=reason,
            transaction_id=str(txn.id),
            **(metadata or {}),
        )
    return txn


async def transfer(
    session: Session,
    actor: Actor,
    *,
    from_user_id: uuid.UUID | None = None,
    from_group_id: uuid.UUID | None = None,
    to_user_id: uuid.UUID | None = None,
    to_group_id: uuid.UUID | None = None,
    amount: int,
    memo: str,
    idempotency_key: str,
) -> RechargeOutcome:
    """Move money from one wallet to another; the source may not go below zero. Toward the
    actor's own wallet or group the four-eyes rule may make it wait for a second approver.
    Idempotent on `idempotency_key` (scoped to the actor). Writes an audit event."""
    scope = await scope_for(session, actor, Permission.LEDGER_ADJUST)
    positive(amount)
    memo = memo.strip()
    if not memo:
        raise InvalidError("A transfer needs a memo.", field="memo")
    if not scope.everywhere:
        await lead_may_move(
            session,
            actor,
            scope,
            ends=[(from_user_id, from_group_id), (to_user_id, to_group_id)],
            amount=amount,
        )
    source = await wallet_account(session, user_id=from_user_id, group_id=from_group_id)
    target = await wallet_account(session, user_id=to_user_id, group_id=to_group_id)
    if source.id == target.id:
        raise TransferInvalidError("A transfer needs two different wallets.")
    key = scoped_key(actor, "transfer", idempotency_key)
    waits = await hold_for_approval(
        session,
        actor,
        operation=ApprovalOperation.TRANSFER,
        account=target,
        amount=amount,
        memo=memo,
        key=key,
        creates=False,
        targets=[target],
        payload={"source_account_id": str(source.id)},
    )
    if waits is not None:
        return waits
    txn = await apply_transfer(
        session, actor, source=source, target=target, amount=amount, memo=memo, key=key
    )
    return RechargeOutcome(account=target, transaction=txn)


async def apply_transfer(
    session: Session,
    actor: Actor,
    *,
    source: LedgerAccount,
    target: LedgerAccount,
    amount: int,
    memo: str,
    key: str,
    metadata: dict[str, str] | None = None,
) -> LedgerTransaction:
    """Write the transfer; the source may not go below zero. Audited once."""
    txn, new = await post_between(
        session,
        actor,
        kind=TransactionKind.TRANSFER,
        source=source,
        target=target,
        amount=amount,
        memo=memo,
        key=key,
        metadata=metadata,
        guarded=source,
        refusal=lambda available: (
            f"The source wallet holds {format_amount(available)}, less than {format_amount(amount)}."
        ),
    )
    if new:
        await audit_service.record(
            session,
            actor,
            "ledger.transfer",
            target_type="ledger_account",
            target_id=target.id,
            target_label=f"{target.kind}:{target.owner_id}",
            before={"from": str(source.id)},
            after={"to": str(target.id)},
            amount=format_amount(amount),
            memo=memo,
            transaction_id=str(txn.id),
            **(metadata or {}),
        )
    return txn


async def lead_may_move(
    session: AnySession,
    actor: Actor,
    scope: Scope,
    *,
    ends: Sequence[tuple[uuid.UUID | None, uuid.UUID | None]],
    amount: int,
) -> None:
    """A team lead moves money only inside one group they lead (its wallet and its members'
    wallets) and up to their approval limit there; the role's refusal otherwise."""
    common: set[uuid.UUID] | None = None
    for user_id, group_id in ends:
        if group_id is not None:
            mine = {group_id} & set(scope.groups or ())
        else:
            user = (await users_service.users_by_id(session, [user_id] if user_id else [])).get(
                user_id or uuid.UUID(int=0)
            )
            mine = await lead_groups_over(session, scope, user, actor) if user else set()
        common = mine if common is None else common & mine
    if not common:
        raise deny(actor, Permission.LEDGER_ADJUST)
    require_within_limit(scope, common, amount)
