"""Ledger queries: account rows and locks, idempotent transaction inserts, delta balance updates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, exists, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from spectra.db.repository import paginate
from spectra.kit.pagination import Page
from spectra.ledger.models import (
    SINGLETON_OWNER_KEY,
    AccountKind,
    CodeBatch,
    CodeStatus,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    LowBalanceNotice,
    LowBalanceThreshold,
    RechargeApproval,
    RechargeRequest,
    RedemptionCode,
)
from spectra.users.models import Group, User

_TXN: Table = LedgerTransaction.__table__  # type: ignore[assignment]
_POSTING: Table = LedgerPosting.__table__  # type: ignore[assignment]
_ACCOUNT: Table = LedgerAccount.__table__  # type: ignore[assignment]
_NOTICE: Table = LowBalanceNotice.__table__  # type: ignore[assignment]


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(session: AsyncSession, table: Any) -> Any:
    if dialect_of(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
        _insert(session, LedgerAccount)
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
        _insert(session, LedgerTransaction)
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
    txns = _TXN.c
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
        select(_POSTING.c.transaction_id, _POSTING.c.account_id, _POSTING.c.amount_micros).where(
            _POSTING.c.transaction_id.in_(list(postings))
        )
    )
    for txn_id, account_id, amount in found.all():
        postings[txn_id].append((account_id, int(amount)))
    return {row[1]: (row[0], row[2], postings[row[0]]) for row in rows}


async def insert_transactions_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany INSERT of transaction rows (Core, column names: `metadata`, not `meta`).
    No on-conflict clause: the caller looked the keys up under the account locks, and a key
    written meanwhile by another process fails the batch (the committer then retries alone)."""
    if rows:
        await session.execute(insert(_TXN), list(rows))


async def insert_postings_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_POSTING), list(rows))


async def add_to_balances(
    session: AsyncSession, deltas: dict[uuid.UUID, int], new_balances: dict[uuid.UUID, int]
) -> None:
    """`balance = balance + delta` for each account (one executemany, ascending id order), and
    the new balances into any loaded ORM object."""
    from spectra.kit.clock import utc_now

    accounts = _ACCOUNT.c
    now = utc_now()
    params = [{"b_id": a, "b_delta": d, "b_now": now} for a, d in sorted(deltas.items()) if d != 0]
    if not params:
        return
    stmt = (
        update(_ACCOUNT)
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
        await session.execute(insert(_NOTICE), list(rows))


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


async def get_transaction(
    session: AsyncSession, transaction_id: uuid.UUID
) -> LedgerTransaction | None:
    stmt = (
        select(LedgerTransaction)
        .where(LedgerTransaction.id == transaction_id)
        .options(selectinload(LedgerTransaction.postings))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_transaction_by_key(session: AsyncSession, key: str) -> LedgerTransaction | None:
    stmt = (
        select(LedgerTransaction)
        .where(LedgerTransaction.idempotency_key == key)
        .options(selectinload(LedgerTransaction.postings))
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def balances(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = (
        await session.execute(
            select(LedgerAccount.id, LedgerAccount.balance_micros).where(
                LedgerAccount.id.in_(list(account_ids))
            )
        )
    ).all()
    return {row[0]: int(row[1]) for row in rows}


async def balances_with_keys(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], keys: Sequence[str]
) -> tuple[dict[uuid.UUID, int], set[str]]:
    """Balances and which of `keys` are already written, from one snapshot: SQLite's read
    transaction is a snapshot; on PostgreSQL the caller's session runs REPEATABLE READ."""
    found = await balances(session, account_ids)
    written: set[str] = set()
    if keys:
        written = set(
            (
                await session.execute(
                    select(LedgerTransaction.idempotency_key).where(
                        LedgerTransaction.idempotency_key.in_(list(keys))
                    )
                )
            )
            .scalars()
            .all()
        )
    return found, written


async def refunded_by_account(
    session: AsyncSession, original_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Sum of postings per account over the transactions that reverse `original_id`."""
    stmt = (
        select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_micros))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.reverses_id == original_id)
        .group_by(LedgerPosting.account_id)
    )
    return {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}


async def list_transactions(
    session: AsyncSession,
    *,
    account_ids: Sequence[uuid.UUID] | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    cursor: str | None,
) -> Page[LedgerTransaction]:
    stmt: Select[Any] = select(LedgerTransaction).options(selectinload(LedgerTransaction.postings))
    if account_ids is not None:
        stmt = stmt.where(
            exists().where(
                LedgerPosting.transaction_id == LedgerTransaction.id,
                LedgerPosting.account_id.in_(list(account_ids)),
            )
        )
    if kind:
        stmt = stmt.where(LedgerTransaction.kind == kind)
    if since is not None:
        stmt = stmt.where(LedgerTransaction.created_at >= since)
    if until is not None:
        stmt = stmt.where(LedgerTransaction.created_at < until)
    page: Page[LedgerTransaction] = await paginate(
        session,
        stmt,
        sort_time=LedgerTransaction.created_at,
        sort_id=LedgerTransaction.id,
        limit=limit,
        cursor=cursor,
    )
    return page


async def accounts_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, LedgerAccount]:
    rows = (
        (await session.execute(select(LedgerAccount).where(LedgerAccount.id.in_(list(ids)))))
        .scalars()
        .all()
    )
    return {a.id: a for a in rows}


async def thresholds_for(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int | None]:
    rows = (
        await session.execute(
            select(LowBalanceThreshold.account_id, LowBalanceThreshold.threshold_micros).where(
                LowBalanceThreshold.account_id.in_(list(account_ids))
            )
        )
    ).all()
    return {row[0]: (None if row[1] is None else int(row[1])) for row in rows}


async def lock_approval(session: AsyncSession, approval_id: uuid.UUID) -> RechargeApproval | None:
    stmt = (
        select(RechargeApproval)
        .where(RechargeApproval.id == approval_id)
        .execution_options(populate_existing=True)
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_request(session: AsyncSession, request_id: uuid.UUID) -> RechargeRequest | None:
    stmt = (
        select(RechargeRequest)
        .where(RechargeRequest.id == request_id)
        .execution_options(populate_existing=True)
    )
    if dialect_of(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim_code(
    session: AsyncSession, *, code_hash: str, user_id: uuid.UUID, at: datetime
) -> bool:
    """Mark an unused code redeemed by `user_id`; False when another redemption won (or none)."""
    result = await session.execute(
        update(RedemptionCode)
        .where(RedemptionCode.code_hash == code_hash, RedemptionCode.status == CodeStatus.UNUSED)
        .values(status=CodeStatus.REDEEMED, redeemed_by_user_id=user_id, redeemed_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def find_code(session: AsyncSession, code_hash: str) -> RedemptionCode | None:
    stmt = (
        select(RedemptionCode)
        .where(RedemptionCode.code_hash == code_hash)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_unused(
    session: AsyncSession,
    *,
    batch_id: uuid.UUID,
    code_ids: Sequence[uuid.UUID] | None,
    at: datetime,
) -> int:
    stmt = update(RedemptionCode).where(
        RedemptionCode.batch_id == batch_id, RedemptionCode.status == CodeStatus.UNUSED
    )
    if code_ids is not None:
        stmt = stmt.where(RedemptionCode.id.in_(list(code_ids)))
    result = await session.execute(
        stmt.values(status=CodeStatus.REVOKED, revoked_at=at).execution_options(
            synchronize_session=False
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def batch_counts(
    session: AsyncSession, batch_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    rows = (
        await session.execute(
            select(RedemptionCode.batch_id, RedemptionCode.status, func.count())
            .where(RedemptionCode.batch_id.in_(list(batch_ids)))
            .group_by(RedemptionCode.batch_id, RedemptionCode.status)
        )
    ).all()
    out: dict[uuid.UUID, dict[str, int]] = {
        bid: {s.value: 0 for s in CodeStatus} for bid in batch_ids
    }
    for batch_id, status, count in rows:
        out[batch_id][status] = int(count)
    return out


async def list_batches(
    session: AsyncSession, *, limit: int | None, cursor: str | None
) -> Page[CodeBatch]:
    page: Page[CodeBatch] = await paginate(
        session,
        select(CodeBatch),
        sort_time=CodeBatch.created_at,
        sort_id=CodeBatch.id,
        limit=limit,
        cursor=cursor,
    )
    return page


async def due_notices(
    session: AsyncSession, *, now: datetime, limit: int = 50
) -> Sequence[LowBalanceNotice]:
    stmt = (
        select(LowBalanceNotice)
        .where(
            LowBalanceNotice.delivery == "pending",
            (LowBalanceNotice.next_attempt_at.is_(None))
            | (LowBalanceNotice.next_attempt_at <= now),
        )
        .order_by(LowBalanceNotice.created_at)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def pg_advisory_lock(session: AsyncSession, key: int) -> None:
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> Group | None:
    return await session.get(Group, group_id)


def user_wallet_owners(
    *, below: int | None = None, at_least: int | None = None, nonzero: bool = False
) -> Select[Any]:
    """The ids of users whose wallet balance matches (a subquery for a user list's filter).
    Users without a wallet account are not in it: their balance is zero."""
    stmt = select(LedgerAccount.owner_id).where(
        LedgerAccount.kind == AccountKind.USER_WALLET.value, LedgerAccount.owner_id.is_not(None)
    )
    if below is not None:
        stmt = stmt.where(LedgerAccount.balance_micros < below)
    if at_least is not None:
        stmt = stmt.where(LedgerAccount.balance_micros >= at_least)
    if nonzero:
        stmt = stmt.where(LedgerAccount.balance_micros != 0)
    return stmt


async def created_by_actor_since(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    label: str,
    since: datetime,
    sources: Sequence[str],
) -> int:
    """Micros one actor took out of the `sources` accounts (money created) since `since`: the
    rolling window of the four-eyes rule. A user is matched by id, any other actor by label."""
    who = (
        LedgerTransaction.actor_user_id == user_id
        if user_id is not None
        else (LedgerTransaction.actor_label == label) & LedgerTransaction.actor_user_id.is_(None)
    )
    stmt = (
        select(func.coalesce(func.sum(LedgerPosting.amount_micros), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(
            who,
            LedgerTransaction.created_at >= since,
            LedgerPosting.amount_micros < 0,
            LedgerAccount.kind.in_(list(sources)),
        )
    )
    return -int((await session.execute(stmt)).scalar_one())
