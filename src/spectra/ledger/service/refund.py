"""Refunds of usage: a reversing transaction (fully or partly), never beyond the original."""

from __future__ import annotations

import uuid

from spectra.audit import service as audit_service
from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.errors import InvalidError
from spectra.kit.money import format_amount
from spectra.ledger import repository as repo
from spectra.ledger.errors import (
    RefundExceedsOriginalError,
    RefundNotAllowedError,
    TransactionNotFoundError,
)
from spectra.ledger.models import ApprovalOperation, LedgerTransaction, TransactionKind
from spectra.users.permissions import Permission, require

from ._common import positive, replayed
from .accounts import get_account
from .four_eyes import RechargeOutcome, hold_for_approval, scoped_key
from .post import post


async def refund(
    session: Session,
    actor: Actor,
    *,
    transaction_id: uuid.UUID,
    amount: int | None = None,
    reason: str,
    idempotency_key: str,
) -> RechargeOutcome:
    """Give back some or all of a usage transaction to the sources it charged, last-charged first.

    The refund references the original; refunds of one original never exceed it in total. A
    refund puts spent money back, so the four-eyes rule may make it wait for a second approver
    (always when it is the actor's own usage). Idempotent on `idempotency_key` (scoped to the
    actor). Writes an audit event.
    """
    require(actor, Permission.LEDGER_ADJUST)
    reason = reason.strip()
    if not reason:
        raise InvalidError("A refund needs a reason.", field="reason")
    if amount is not None:
        positive(amount)
    key = scoped_key(actor, "refund", idempotency_key)
    again = await replayed(session, key)
    if again is not None:
        credited = next(p.account_id for p in again.postings if p.amount_micros > 0)
        return RechargeOutcome(account=await get_account(session, credited), transaction=again)
    original, postings, _ = await _plan(session, transaction_id, amount)
    total = -postings[-1][1]
    accounts = [await get_account(session, a) for a, m in postings if m > 0]
    waits = await hold_for_approval(
        session,
        actor,
        operation=ApprovalOperation.REFUND,
        account=accounts[0],
        amount=total,
        memo=reason,
        key=key,
        creates=True,
        targets=accounts,
        payload={"transaction_id": str(original.id)},
        same_account=False,
    )
    if waits is not None:
        return waits
    txn = await apply_refund(
        session, actor, transaction_id=original.id, amount=total, reason=reason, key=key
    )
    return RechargeOutcome(account=accounts[0], transaction=txn)


async def apply_refund(
    session: Session,
    actor: Actor,
    *,
    transaction_id: uuid.UUID,
    amount: int,
    reason: str,
    key: str,
    metadata: dict[str, str] | None = None,
) -> LedgerTransaction:
    """Write the refund, re-checking what is left to refund under the accounts' locks."""
    again = await replayed(session, key)
    if again is not None:
        return again
    original, postings, remaining = await _plan(session, transaction_id, amount)
    txn = await post(
        session,
        actor,
        kind=TransactionKind.REFUND,
        postings=postings,
        idempotency_key=key,
        memo=reason,
        metadata={"refund_of": str(original.id), **(metadata or {})},
        reverses_id=original.id,
    )
    await audit_service.record(
        session,
        actor,
        "ledger.refund",
        target_type="ledger_transaction",
        target_id=original.id,
        before={"refundable": format_amount(remaining)},
        after={"refundable": format_amount(remaining - amount)},
        amount=format_amount(amount),
        reason=reason,
        transaction_id=str(txn.id),
        **(metadata or {}),
    )
    return txn


async def _plan(
    session: Session, transaction_id: uuid.UUID, amount: int | None
) -> tuple[LedgerTransaction, list[tuple[uuid.UUID, int]], int]:
    """The original usage, the refund's postings (sources credited last-charged first, then the
    expense debited) and what was left to refund before it."""
    original = await repo.get_transaction(session, transaction_id)
    if original is None:
        raise TransactionNotFoundError(
            "That ledger transaction does not exist.", transaction_id=str(transaction_id)
        )
    if original.kind != TransactionKind.USAGE:
        raise RefundNotAllowedError(
            f"Only usage can be refunded; this is a {original.kind} transaction."
        )
    by_account = {p.account_id: p.amount_micros for p in original.postings}
    # Serialise refunds of this original: every one of them locks these accounts first.
    await repo.lock_accounts(session, list(by_account))
    refunded = await repo.refunded_by_account(session, original.id)
    charged = [(a, -m) for a, m in by_account.items() if m < 0]
    total = sum(c for _, c in charged)
    already = sum(refunded.get(a, 0) for a, _ in charged)
    remaining = total - already
    if remaining <= 0:
        raise RefundNotAllowedError(
            "This usage was already refunded in full.", transaction_id=str(original.id)
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise RefundExceedsOriginalError(
            f"At most {format_amount(remaining)} of this usage is left to refund.",
            remaining_micros=remaining,
        )
    expense = next(a for a, m in by_account.items() if m > 0)
    order = [
        p.account_id for p in sorted(original.postings, key=lambda p: p.id) if p.amount_micros < 0
    ]
    postings: list[tuple[uuid.UUID, int]] = []
    left = amount
    for account_id in reversed(order):
        room = -by_account[account_id] - refunded.get(account_id, 0)
        give = min(room, left)
        if give > 0:
            postings.append((account_id, give))
            left -= give
    postings.append((expense, -amount))
    return original, postings, remaining
