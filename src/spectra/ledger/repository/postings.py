"""Writing money: account rows (race-safe), account locks in id order, idempotent transaction
and posting inserts (one at a time or in batches), and delta balance updates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from spectra.db.bulk import insert_rows
from spectra.ledger.models import (
    SINGLETON_OWNER_KEY,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
)

from ._common import ACCOUNT, NOTICE, POSTING, TXN, dialect_of, insert_stmt


def owner_key(owner_id: uuid.UUID | None) -> str:
    return SINGLETON_OWNER_KEY if owner_id is None else str(owner_id)


_ACCOUNT_NAMESPACE = uuid.UUID("6f1c5e0a-3f7e-4d59-9a51-0c2b8f1d7e42")


def account_id_for(kind: str, owner_id: uuid.UUID | None) -> uuid.UUID:
    """The id an account gets when created: derived from (kind, owner), so a read of a wallet
    that does not exist yet can name the id it will have, without writing it."""
    return uuid.uuid5(_ACCOUNT_NAMESPACE, f"{kind}:{owner_key(owner_id)}")


async def insert_account_if_missing(
    session: AsyncSession, *, kind: str, owner_id: uuid.UUID | None
) -> None:
    from spectra.kit.clock import utc_now

    now = utc_now()
    stmt = (
        insert_stmt(session, LedgerAccount)
        .values(
            id=account_id_for(kind, owner_id),
            kind=kind,
            owner_id=owner_id,
            owner_key=owner_key(owner_id),
            balance_micros=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "owner_key"])
    )
    await session.execute(stmt)


async def find_account(
    session: AsyncSession, *, kind: str, owner_id: uuid.UUID | None
) -> LedgerAccount | None:
    stmt = select(LedgerAccount).where(
        LedgerAccount.kind == kind, LedgerAccount.owner_key == owner_key(owner_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> LedgerAccount | None:
    return await session.get(LedgerAccount, account_id)


async def lock_accounts(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Lock the accounts in ascending id order (PostgreSQL row locks; SQLite already holds the
    write lock from BEGIN IMMEDIATE). Returns {id: kind} for the ids that exist."""
    ordered = sorted(set(account_ids))
    stmt = (
        select(LedgerAccount.id, LedgerAccount.kind)
        .where(LedgerAccount.id.in_(ordered))
        .order_by(LedgerAccount.id)
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


async def insert_transaction(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a transaction row unless its idempotency key exists; True when inserted."""
    stmt = (
        insert_stmt(session, LedgerTransaction)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def insert_postings(
    session: AsyncSession,
    transaction_id: uuid.UUID,
    postings: Sequence[tuple[uuid.UUID, int]],
    created_at: datetime,
) -> None:
    await session.execute(
        insert(LedgerPosting),
        [
            {
                "transaction_id": transaction_id,
                "account_id": a,
                "amount_micros": m,
                "created_at": created_at,
            }
            for a, m in postings
        ],
    )


async def lock_accounts_for_batch(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, int]]:
    """`lock_accounts` that also reads the balances: {id: (kind, balance)} for the ids that exist.
    Under the lock the balances cannot move until commit, so new balances can be computed."""
    ordered = sorted(set(account_ids))
    stmt = (
        select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.balance_micros)
        .where(LedgerAccount.id.in_(ordered))
        .order_by(LedgerAccount.id)
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return {row[0]: (row[1], int(row[2])) for row in (await session.execute(stmt)).all()}


async def transactions_by_keys(
    session: AsyncSession, keys: Sequence[str]
) -> dict[str, tuple[uuid.UUID, str, list[tuple[uuid.UUID, int]]]]:
    """{idempotency_key: (transaction id, kind, postings)} for the keys already written: one
    `IN` query, plus one for the postings when any key is found."""
    if not keys:
        return {}
    txns = TXN.c
    rows = (
        await session.execute(
            select(txns.id, txns.idempotency_key, txns.kind).where(
                txns.idempotency_key.in_(list(keys))
            )
        )
    ).all()
    if not rows:
        return {}
    postings: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {row[0]: [] for row in rows}
    found = await session.execute(
        select(POSTING.c.transaction_id, POSTING.c.account_id, POSTING.c.amount_micros).where(
            POSTING.c.transaction_id.in_(list(postings))
        )
    )
    for txn_id, account_id, amount in found.all():
        postings[txn_id].append((account_id, int(amount)))
    return {row[1]: (row[0], row[2], postings[row[0]]) for row in rows}


async def insert_transactions_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Transaction rows in one bulk write (`db.bulk`: COPY on PostgreSQL, executemany on
    SQLite; Core column names: `metadata`, not `meta`). No on-conflict clause: the caller looked
    the keys up under the account locks, and a key written meanwhile by another process fails
    the batch (the committer then retries alone)."""
    await insert_rows(session, TXN, rows)


async def insert_postings_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await insert_rows(session, POSTING, rows)


async def add_to_balances(
    session: AsyncSession, deltas: dict[uuid.UUID, int], new_balances: dict[uuid.UUID, int]
) -> None:
    """`balance = balance + delta` for each account (one executemany, ascending id order), and
    the new balances into any loaded ORM object."""
    from spectra.kit.clock import utc_now

    accounts = ACCOUNT.c
    now = utc_now()
    params = [{"b_id": a, "b_delta": d, "b_now": now} for a, d in sorted(deltas.items()) if d != 0]
    if not params:
        return
    stmt = (
        update(ACCOUNT)
        .where(accounts.id == bindparam("b_id"))
        .values(
            balance_micros=accounts.balance_micros + bindparam("b_delta"),
            updated_at=bindparam("b_now"),
        )
    )
    await session.execute(stmt, params)
    for account_id in deltas:
        loaded = session.identity_map.get(identity_key(LedgerAccount, account_id))
        if loaded is not None:
            set_committed_value(loaded, "balance_micros", new_balances[account_id])


async def insert_notices_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(NOTICE), list(rows))


async def apply_deltas(
    session: AsyncSession, postings: Sequence[tuple[uuid.UUID, int]]
) -> dict[uuid.UUID, int]:
    """`balance = balance + delta` per account, in ascending id order; returns the new balances."""
    from spectra.kit.clock import utc_now

    now = utc_now()
    balances: dict[uuid.UUID, int] = {}
    for account_id, delta in sorted(postings, key=lambda p: p[0]):
        stmt = (
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id)
            .values(balance_micros=LedgerAccount.balance_micros + delta, updated_at=now)
            .returning(LedgerAccount.balance_micros)
            .execution_options(synchronize_session=False)
        )
        new_balance = (await session.execute(stmt)).scalar_one()
        balances[account_id] = int(new_balance)
        loaded = session.identity_map.get(identity_key(LedgerAccount, account_id))
        if loaded is not None:
            set_committed_value(loaded, "balance_micros", int(new_balance))
    return balances
