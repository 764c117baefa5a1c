"""Posting a ledger transaction: the one write path for money.

Idempotent on `idempotency_key` (unique in the schema, inserted with on-conflict-do-nothing).
Accounts are locked in ascending id order; cached balances move by deltas in the same
transaction; every non-gateway post records a `ledger.balance` change per account so in-memory
balance views re-read it; a wallet falling below its low-balance threshold records a notice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spectra.audit.actor import Actor, ActorKind
from spectra.db.changes import record_change
from spectra.errors import InvalidError
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import repository as repo
from spectra.ledger import webhooks
from spectra.ledger.errors import AccountNotFoundError, IdempotencyConflictError
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.models import (
    WALLET_KINDS,
    LedgerTransaction,
    LowBalanceNotice,
    NoticeDelivery,
    TransactionKind,
)
from spectra.ledger.postings import check_postings, same_postings
from spectra.workspace import service as workspace_service

BALANCE_CHANGE = "ledger.balance"


async def post(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: TransactionKind | str,
    postings: Sequence[tuple[uuid.UUID, int]],
    idempotency_key: str,
    memo: str = "",
    metadata: dict[str, Any] | None = None,
    reverses_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Write one balanced transaction and move the cached balances by its postings.

    Replaying a key returns the original and moves nothing; the same key with different
    postings or kind is an `idempotency_conflict`.
    """
    kind = TransactionKind(kind)
    canonical = check_postings(postings)
    key = idempotency_key.strip()
    if not key or len(key) > 200:
        raise InvalidError("An idempotency key of 1 to 200 characters is required.")
    account_ids = [a for a, _ in canonical]
    kinds = await repo.lock_accounts(session, account_ids)
    missing = [a for a in account_ids if a not in kinds]
    if missing:
        raise AccountNotFoundError(
            "A posting names a ledger account that does not exist.", account_id=str(missing[0])
        )
    now = utc_now()
    txn_id = uuid7()
    inserted = await repo.insert_transaction(
        session,
        {
            "id": txn_id,
            "idempotency_key": key,
            "kind": kind.value,
            "memo": memo,
            "meta": metadata,
            "actor_kind": str(actor.kind),
            "actor_label": actor.label,
            "actor_user_id": actor.user_id,
            "reverses_id": reverses_id,
            "created_at": now,
        },
    )
    if not inserted:
        original = await repo.get_transaction_by_key(session, key)
        assert original is not None
        if original.kind != kind or not same_postings(
            [(p.account_id, p.amount_micros) for p in original.postings], canonical
        ):
            raise IdempotencyConflictError(
                "This idempotency key was already used for a different transaction; use a new key.",
                idempotency_key=key,
                transaction_id=str(original.id),
            )
        return original
    await repo.insert_postings(session, txn_id, canonical, now)
    new_balances = await repo.apply_deltas(session, canonical)
    if actor.kind != ActorKind.GATEWAY:
        for account_id in account_ids:
            await record_change(session, BALANCE_CHANGE, account_id)
    await _notice_low_balances(session, txn_id, canonical, kinds, new_balances)
    txn = await repo.get_transaction(session, txn_id)
    assert txn is not None
    return txn


async def post_spec(
    session: AsyncSession, actor: Actor, spec: LedgerTransactionSpec
) -> LedgerTransaction:
    """Write a transaction prepared by a balance view's `settle` (the gateway's settlement path)."""
    return await post(
        session,
        actor,
        kind=spec.kind,
        postings=spec.postings,
        idempotency_key=spec.idempotency_key,
        memo=spec.memo,
        metadata=dict(spec.metadata) if spec.metadata else None,
    )


async def _notice_low_balances(
    session: AsyncSession,
    txn_id: uuid.UUID,
    postings: Sequence[tuple[uuid.UUID, int]],
    kinds: dict[uuid.UUID, str],
    new_balances: dict[uuid.UUID, int],
) -> None:
    debited = [(a, d) for a, d in postings if d < 0 and kinds.get(a) in WALLET_KINDS]
    if not debited:
        return
    own = await repo.thresholds_for(session, [a for a, _ in debited])
    default: int | None = None
    if any(a not in own for a, _ in debited):
        default = (await workspace_service.get_settings(session)).low_balance_threshold_micros
    recorded = False
    for account_id, delta in debited:
        threshold = own.get(account_id, default)
        if threshold is None:
            continue
        after = new_balances[account_id]
        before = after - delta
        if before >= threshold > after:
            session.add(
                LowBalanceNotice(
                    account_id=account_id,
                    transaction_id=txn_id,
                    threshold_micros=threshold,
                    balance_micros=after,
                    delivery=NoticeDelivery.PENDING,
                )
            )
            recorded = True
    if recorded:
        await session.flush()
        webhooks.kick_after_commit(session)
