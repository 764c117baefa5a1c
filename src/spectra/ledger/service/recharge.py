"""Admin recharges of user and group wallets, under the four-eyes rule (four_eyes.py)."""

from __future__ import annotations

import uuid

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.kit.money import format_amount
from spectra.ledger.errors import MemoRequiredError
from spectra.ledger.models import (
    AccountKind,
    ApprovalOperation,
    LedgerAccount,
    LedgerTransaction,
    TransactionKind,
)
from spectra.users.permissions import Permission, require

from ._common import positive
from .accounts import get_or_create_account, get_wallet, wallet_account
from .four_eyes import RechargeOutcome, approval_rule, credit_waits, scoped_key
from .post import post_between


async def recharge_would_wait(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    amount: int,
) -> str | None:
    """What `recharge` would do with `amount` now, for a confirmation step: why it would wait for
    a second approver (`over_threshold`, `own_wallet`, `split`), or None when it would be credited
    at once. Raises what `recharge` would raise for the amount (`max_recharge`). Writes nothing."""
    require(actor, Permission.LEDGER_RECHARGE)
    positive(amount)
    wallet = await get_wallet(session, actor, user_id=user_id, group_id=group_id)
    return await approval_rule(
        session, actor, amount=amount, creates=True, targets=[wallet], capped=True
    )


async def recharge(
    session: Session,
    actor: Actor,
    *,
    user_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    amount: int,
    memo: str,
    idempotency_key: str,
) -> RechargeOutcome:
    """Credit a wallet from funding. Idempotent on `idempotency_key` (scoped to the actor).
    When the four-eyes rule says so it opens a pending approval instead. Writes an audit event."""
    require(actor, Permission.LEDGER_RECHARGE)
    positive(amount)
    memo = memo.strip()
    if not memo:
        raise MemoRequiredError("A recharge needs a memo that says why.")
    wallet = await wallet_account(session, user_id=user_id, group_id=group_id)
    key = scoped_key(actor, "recharge", idempotency_key)
    waits = await credit_waits(
        session,
        actor,
        operation=ApprovalOperation.RECHARGE,
        wallet=wallet,
        amount=amount,
        memo=memo,
        key=key,
    )
    if waits is not None:
        return waits
    txn = await apply_recharge(
        session,
        actor,
        wallet=wallet,
        amount=amount,
        memo=memo,
        key=key,
        metadata={"requested_by": actor.label},
    )
    return RechargeOutcome(account=wallet, transaction=txn)


async def apply_recharge(
    session: Session,
    actor: Actor,
    *,
    wallet: LedgerAccount,
    amount: int,
    memo: str,
    key: str,
    metadata: dict[str, str],
    audit: bool = True,
) -> LedgerTransaction:
    """Write the recharge (funding -> wallet); audited once, not on a replay of `key`."""
    funding = await get_or_create_account(session, kind=AccountKind.FUNDING)
    txn, new = await post_between(
        session,
        actor,
        kind=TransactionKind.RECHARGE,
        source=funding,
        target=wallet,
        amount=amount,
        memo=memo,
        key=key,
        metadata=metadata,
    )
    if new and audit:
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
    return txn


def _label(account: LedgerAccount) -> str:
    return f"{account.kind}:{account.owner_id}" if account.owner_id else account.kind
