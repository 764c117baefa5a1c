"""Posting many settlement transactions at once: the gateway's group-commit path.

`post_specs` writes a batch of specs with the same result as `post_spec` called once per spec,
in order, but in a fixed number of statements per batch instead of ~10 per spec: one ordered
lock of every touched account (reading balances), one `IN` lookup of the idempotency keys, one
executemany each for transactions and postings, one delta UPDATE per account (executemany), the
`ledger.balance` change rows (non-gateway actors only, once per account) and the low-balance
notices, with thresholds and the workspace default read once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spectra.audit.actor import Actor, ActorKind
from spectra.db.changes import record_change
from spectra.db.session import Session
from spectra.errors import InvalidError, SpectraError
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import repository as repo
from spectra.ledger.errors import AccountNotFoundError, IdempotencyConflictError
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.models import TransactionKind
from spectra.ledger.postings import Posting, check_in_range, check_postings, same_postings

from .post import BALANCE_CHANGE, clean_key, notice_low_balances


@dataclass(frozen=True, slots=True)
class PostedSpec:
    """What became of one spec of `post_specs`: written, replayed, or refused with `error`."""

    spec: LedgerTransactionSpec
    transaction_id: uuid.UUID | None
    """The new transaction's id, or the original's for a replay; None when `error` is set."""
    replayed: bool = False
    """The key was already written (before or earlier in this batch): nothing moved."""
    error: SpectraError | None = None
    """Why nothing was written for this spec (the others of the batch are not affected)."""


@dataclass(slots=True)
class _Valid:
    index: int
    key: str
    kind: TransactionKind
    postings: list[Posting]


async def post_specs(
    session: Session, actor: Actor, specs: Sequence[LedgerTransactionSpec]
) -> list[PostedSpec]:
    """Write `specs` as `post_spec` would, one by one in order, in a few statements per batch.

    Skip-and-report: a spec that `post_spec` would refuse (unbalanced, bad key, a missing
    account, a key already used for a different transaction) is returned with its `error` and
    writes nothing; the others are written in the caller's transaction. A replayed key (already
    in the database, or earlier in `specs`) returns the original's id and moves nothing.
    Low-balance notices fire for each wallet whose running balance crosses its threshold at a
    spec of the batch, exactly as posting the specs one by one would record them.
    """
    outcomes: list[PostedSpec | None] = [None] * len(specs)
    valid: list[_Valid] = []
    for index, spec in enumerate(specs):
        try:
            valid.append(
                _Valid(index, clean_key(spec.idempotency_key), _kind(spec.kind), _check(spec))
            )
        except SpectraError as exc:
            outcomes[index] = PostedSpec(spec, None, error=exc)
    if valid:
        await _write(session, actor, specs, valid, outcomes)
    return [o for o in outcomes if o is not None]


async def _write(
    session: Session,
    actor: Actor,
    specs: Sequence[LedgerTransactionSpec],
    valid: list[_Valid],
    outcomes: list[PostedSpec | None],
) -> None:
    accounts = await repo.lock_accounts_for_batch(
        session, [a for v in valid for a, _ in v.postings]
    )
    known = {
        key: (txn_id, TransactionKind(kind), postings)
        for key, (txn_id, kind, postings) in (
            await repo.transactions_by_keys(session, sorted({v.key for v in valid}))
        ).items()
    }
    now = utc_now()
    txn_rows: list[dict[str, Any]] = []
    posting_rows: list[dict[str, Any]] = []
    written: list[tuple[uuid.UUID, list[Posting]]] = []
    running = {a: balance for a, (_, balance) in accounts.items()}
    for v in valid:
        spec = specs[v.index]
        missing = [a for a, _ in v.postings if a not in accounts]
        if missing:
            outcomes[v.index] = PostedSpec(
                spec,
                None,
                error=AccountNotFoundError(
                    "A posting names a ledger account that does not exist.",
                    account_id=str(missing[0]),
                ),
            )
            continue
        prior = known.get(v.key)
        if prior is not None:
            txn_id, kind, postings = prior
            if kind != v.kind or not same_postings(postings, v.postings):
                outcomes[v.index] = PostedSpec(
                    spec,
                    None,
                    error=IdempotencyConflictError(
                        "This idempotency key was already used for a different transaction; "
                        "use a new key.",
                        idempotency_key=v.key,
                        transaction_id=str(txn_id),
                    ),
                )
            else:
                outcomes[v.index] = PostedSpec(spec, txn_id, replayed=True)
            continue
        try:
            check_in_range(running, v.postings)
        except SpectraError as exc:
            outcomes[v.index] = PostedSpec(spec, None, error=exc)
            continue
        for a, m in v.postings:
            running[a] += m
        txn_id = uuid7()
        known[v.key] = (txn_id, v.kind, v.postings)
        txn_rows.append(
            {
                "id": txn_id,
                "idempotency_key": v.key,
                "kind": v.kind.value,
                "memo": spec.memo,
                "metadata": dict(spec.metadata) if spec.metadata else None,
                "actor_kind": str(actor.kind),
                "actor_label": actor.label,
                "actor_user_id": actor.user_id,
                "reverses_id": None,
                "created_at": now,
            }
        )
        posting_rows.extend(
            {"transaction_id": txn_id, "account_id": a, "amount_micros": m, "created_at": now}
            for a, m in v.postings
        )
        written.append((txn_id, v.postings))
        outcomes[v.index] = PostedSpec(spec, txn_id)
    if not written:
        return
    await repo.insert_transactions_many(session, txn_rows)
    await repo.insert_postings_many(session, posting_rows)
    deltas: dict[uuid.UUID, int] = {}
    for _, postings in written:
        for a, m in postings:
            deltas[a] = deltas.get(a, 0) + m
    start = {a: accounts[a][1] for a in deltas}
    await repo.add_to_balances(session, deltas, {a: start[a] + d for a, d in deltas.items()})
    if actor.kind != ActorKind.GATEWAY:
        for account_id in sorted(deltas):
            await record_change(session, BALANCE_CHANGE, account_id)
    kinds = {a: accounts[a][0] for a in deltas}
    await notice_low_balances(session, written, kinds, start)


def _kind(raw: TransactionKind | str) -> TransactionKind:
    try:
        return TransactionKind(raw)
    except ValueError as exc:
        raise InvalidError("Unknown ledger transaction kind.", kind=str(raw)) from exc


def _check(spec: LedgerTransactionSpec) -> list[Posting]:
    return check_postings(spec.postings)
