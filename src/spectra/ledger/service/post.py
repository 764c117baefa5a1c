"""Posting a ledger transaction: the one write path for money.

Idempotent on `idempotency_key` (unique in the schema, inserted with on-conflict-do-nothing).
Accounts are locked in ascending id order; cached balances move by deltas in the same
transaction; every non-gateway post records a `ledger.balance` change per account so in-memory
balance views re-read it; a wallet falling below its low-balance threshold records a notice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from spectra.audit.actor import Actor, ActorKind
from spectra.db import events
from spectra.db.changes import record_change
from spectra.db.session import Session
from spectra.errors import InvalidError
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import repository as repo
from spectra.ledger import webhooks
from spectra.ledger.errors import (
    AccountNotFoundError,
    IdempotencyConflictError,
    InsufficientBalanceError,
)
from spectra.ledger.events import LowBalancesNoticed
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.models import (
    WALLET_KINDS,
    LedgerAccount,
    LedgerTransaction,
    NoticeDelivery,
    TransactionKind,
)
from spectra.ledger.postings import check_in_range, check_postings, same_postings
from spectra.workspace import service as workspace_service

from ._common import replayed

BALANCE_CHANGE = "ledger.balance"


async def post(
    session: Session,
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
    key = clean_key(idempotency_key)
    account_ids = [a for a, _ in canonical]
    locked = await repo.lock_accounts_for_batch(session, account_ids)
    kinds = {a: kind for a, (kind, _) in locked.items()}
    missing = [a for a in account_ids if a not in kinds]
    if missing:
        raise AccountNotFoundError(
            "A posting names a ledger account that does not exist.", account_id=str(missing[0])
        )
    check_in_range({a: balance for a, (_, balance) in locked.items()}, canonical)
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
    start = {a: new_balances[a] - d for a, d in canonical}
    await notice_low_balances(session, [(txn_id, canonical)], kinds, start)
    txn = await repo.get_transaction(session, txn_id)
    assert txn is not None
    return txn


async def post_spec(
    session: Session, actor: Actor, spec: LedgerTransactionSpec
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


async def post_between(
    session: Session,
    actor: Actor,
    *,
    kind: TransactionKind,
    source: LedgerAccount,
    target: LedgerAccount,
    amount: int,
    key: str,
    memo: str,
    metadata: dict[str, str] | None = None,
    guarded: LedgerAccount | None = None,
    refusal: Callable[[int], str] | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Move `amount` from `source` to `target` (a recharge, an adjustment, a transfer): the one
    posting path of the two-account operations. `guarded` (the account that pays) may not go
    below zero: under both accounts' locks its balance is read and a shortfall is refused with
    `refusal(available)`. Returns the transaction and whether it is new (False: a replay of
    `key`, which the caller does not audit again)."""
    again = await replayed(session, key)
    if again is None and guarded is not None:
        await repo.lock_accounts(session, [source.id, target.id])
        available = (await repo.balances(session, [guarded.id]))[guarded.id]
        if available < abs(amount):
            assert refusal is not None
            raise InsufficientBalanceError(
                refusal(available), balance_micros=available, amount_micros=amount
            )
    txn = await post(
        session,
        actor,
        kind=kind,
        postings=[(source.id, -amount), (target.id, amount)],
        idempotency_key=key,
        memo=memo,
        metadata=metadata,
    )
    return txn, again is None


def clean_key(raw: str) -> str:
    """The idempotency key as stored: stripped, 1 to 200 characters."""
    key = raw.strip()
    if not key or len(key) > 200:
        raise InvalidError("An idempotency key of 1 to 200 characters is required.")
    return key


async def notice_low_balances(
    session: Session,
    written: Sequence[tuple[uuid.UUID, Sequence[tuple[uuid.UUID, int]]]],
    kinds: dict[uuid.UUID, str],
    start: dict[uuid.UUID, int],
) -> None:
    """Walk `written` transactions in order with running balances from `start`; record a notice
    for each debit of a wallet that takes it from at-or-above its threshold to below. Thresholds
    and the workspace default are read once."""
    wallets = {a for _, ps in written for a, m in ps if m < 0 and kinds.get(a) in WALLET_KINDS}
    if not wallets:
        return
    own = await repo.thresholds_for(session, sorted(wallets))
    default: int | None = None
    if any(a not in own for a in wallets):
        default = (await workspace_service.get_settings(session)).low_balance_threshold_micros
    thresholds = {a: own.get(a, default) for a in wallets}
    if all(t is None for t in thresholds.values()):
        return
    running = dict(start)
    now = utc_now()
    notices: list[dict[str, Any]] = []
    for txn_id, postings in written:
        for account_id, delta in postings:
            before = running[account_id]
            after = running[account_id] = before + delta
            threshold = thresholds.get(account_id) if delta < 0 else None
            if threshold is not None and before >= threshold > after:
                notices.append(
                    {
                        "id": uuid7(),
                        "account_id": account_id,
                        "transaction_id": txn_id,
                        "threshold_micros": threshold,
                        "balance_micros": after,
                        "delivery": NoticeDelivery.PENDING.value,
                        "attempts": 0,
                        "created_at": now,
                    }
                )
    if notices:
        await repo.insert_notices_many(session, notices)
        webhooks.kick_after_commit(session)
        await events.publish(session, LowBalancesNoticed(notices))
