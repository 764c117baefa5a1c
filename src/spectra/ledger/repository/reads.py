"""Reading money: transactions, balances (cached, with their keys), refunds, thresholds, the
owners a user-list filter needs, and the four-eyes rolling window."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from spectra.db.listing import Sorting, page_sorted
from spectra.db.repository import paginate_by_created
from spectra.kit.listing import ListQuery
from spectra.kit.pagination import Page
from spectra.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    LowBalanceThreshold,
)
from spectra.users.models import Group, User


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


TRANSACTION_SORTING = Sorting(
    keys={
        "created_at": LedgerTransaction.created_at,
        "kind": LedgerTransaction.kind,
        "memo": func.lower(LedgerTransaction.memo),
        "by": func.lower(LedgerTransaction.actor_label),
        "id": LedgerTransaction.id,
    },
    default="-created_at",
    tiebreak=LedgerTransaction.id,
    search=(LedgerTransaction.kind, LedgerTransaction.memo, LedgerTransaction.actor_label),
)
"""The ledger's table: its sort keys, newest first by default, filtered by kind, memo or who."""


async def list_transactions(
    session: AsyncSession,
    *,
    account_ids: Sequence[uuid.UUID] | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    cursor: str | None,
    listing: ListQuery | None = None,
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
    if listing is not None:
        return await page_sorted(session, stmt, listing, TRANSACTION_SORTING)
    return await paginate_by_created(session, stmt, LedgerTransaction, limit=limit, cursor=cursor)


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
