"""Read-only sums over the ledger, packages and pool tables (lower layers) that statements,
forecasts and economics need, read directly like the ledger reads users: the aggregates they
need have no service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from spectra.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction
from spectra.packages.models import Package, PackageAssignment
from spectra.usage.models import UsageRecord


def _posted_on(
    account_ids: Sequence[uuid.UUID], since: datetime, until: datetime
) -> tuple[ColumnElement[bool], ...]:
    """Postings on `account_ids` created in [since, until)."""
    return (
        LedgerPosting.account_id.in_(list(account_ids)),
        LedgerPosting.created_at >= since,
        LedgerPosting.created_at < until,
    )


def _model_expr() -> Any:
    """The model a usage or refund transaction is about: the transaction's metadata, else the
    original's (a refund), else its usage record's, else None."""
    original = aliased(LedgerTransaction)
    record_model = (
        select(UsageRecord.model_requested)
        .where(
            UsageRecord.ledger_transaction_id
            == func.coalesce(LedgerTransaction.reverses_id, LedgerTransaction.id)
        )
        .limit(1)
        .scalar_subquery()
    )
    expr = func.coalesce(
        LedgerTransaction.meta["model"].as_string(),
        original.meta["model"].as_string(),
        record_model,
    )
    return original, expr


async def find_owned_account(
    session: AsyncSession, *, kind: str, owner_id: uuid.UUID
) -> LedgerAccount | None:
    stmt = select(LedgerAccount).where(
        LedgerAccount.kind == kind, LedgerAccount.owner_key == str(owner_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def owned_account_ids(
    session: AsyncSession, *, kind: str, owner_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The ids of the `kind` accounts (wallets) of `owner_ids` that exist, in their order."""
    found = [await find_owned_account(session, kind=kind, owner_id=o) for o in owner_ids]
    return [a.id for a in found if a is not None]


async def allowance_accounts(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """Per user: (allowance account id, package name) of every assignment they ever held."""
    if not user_ids:
        return {}
    stmt = (
        select(PackageAssignment.user_id, PackageAssignment.allowance_account_id, Package.name)
        .join(Package, Package.id == PackageAssignment.package_id)
        .where(PackageAssignment.user_id.in_(list(user_ids)))
        .order_by(PackageAssignment.created_at, PackageAssignment.id)
    )
    out: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for user_id, account_id, name in (await session.execute(stmt)).all():
        out.setdefault(user_id, []).append((account_id, name))
    return out


async def posted_before(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], at: datetime
) -> dict[uuid.UUID, int]:
    """Per account: the sum of its postings before `at` (its balance at that instant)."""
    if not account_ids:
        return {}
    stmt = (
        select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_micros))
        .where(LedgerPosting.account_id.in_(list(account_ids)), LedgerPosting.created_at < at)
        .group_by(LedgerPosting.account_id)
    )
    found = {row[0]: int(row[1] or 0) for row in (await session.execute(stmt)).all()}
    return {a: found.get(a, 0) for a in account_ids}


async def cached_balances(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not account_ids:
        return {}
    stmt = select(LedgerAccount.id, LedgerAccount.balance_micros).where(
        LedgerAccount.id.in_(list(account_ids))
    )
    return {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}


async def movements(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], since: datetime, until: datetime
) -> list[Any]:
    """Per (transaction kind, model, direction): how many transactions and their net amount on
    `account_ids` in [since, until). Direction is "in" when a transaction's net is >= 0."""
    if not account_ids:
        return []
    original, model = _model_expr()
    per_txn = (
        select(
            LedgerTransaction.id.label("txn_id"),
            LedgerTransaction.kind.label("kind"),
            case((LedgerTransaction.kind.in_(("usage", "refund")), model), else_=None).label(
                "model"
            ),
            func.sum(LedgerPosting.amount_micros).label("net"),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .outerjoin(original, original.id == LedgerTransaction.reverses_id)
        .where(*_posted_on(account_ids, since, until))
        .group_by(LedgerTransaction.id, LedgerTransaction.kind, "model")
        .subquery()
    )
    direction = case((per_txn.c.net >= 0, "in"), else_="out").label("direction")
    stmt = select(
        per_txn.c.kind,
        per_txn.c.model,
        direction,
        func.count().label("count"),
        func.sum(per_txn.c.net).label("amount"),
    ).group_by(per_txn.c.kind, per_txn.c.model, direction)
    return list((await session.execute(stmt)).all())


async def usage_tokens(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], since: datetime, until: datetime
) -> dict[str | None, tuple[int, int, int, int, int]]:
    """Per model (as `movements` names it): the tokens of the usage transactions on
    `account_ids` in [since, until), each request once however many accounts funded it:
    (input, output, cache read, cache write, of which 1-hour cache write)."""
    if not account_ids:
        return {}
    txns = (
        select(LedgerPosting.transaction_id.label("txn_id"))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(
            *_posted_on(account_ids, since, until),
            LedgerTransaction.kind == "usage",
        )
        .distinct()
        .subquery()
    )
    per_record = (
        select(
            func.coalesce(
                LedgerTransaction.meta["model"].as_string(), UsageRecord.model_requested
            ).label("model"),
            UsageRecord.input_tokens,
            UsageRecord.output_tokens,
            UsageRecord.cache_read_tokens,
            UsageRecord.cache_write_tokens,
            UsageRecord.cache_write_1h_tokens,
        )
        .join(txns, txns.c.txn_id == UsageRecord.ledger_transaction_id)
        .join(LedgerTransaction, LedgerTransaction.id == UsageRecord.ledger_transaction_id)
        .subquery()
    )
    stmt = select(
        per_record.c.model,
        func.sum(per_record.c.input_tokens),
        func.sum(per_record.c.output_tokens),
        func.sum(per_record.c.cache_read_tokens),
        func.sum(per_record.c.cache_write_tokens),
        func.sum(per_record.c.cache_write_1h_tokens),
    ).group_by(per_record.c.model)
    return {
        row[0]: (
            int(row[1] or 0),
            int(row[2] or 0),
            int(row[3] or 0),
            int(row[4] or 0),
            int(row[5] or 0),
        )
        for row in (await session.execute(stmt)).all()
    }


async def statement_entries(
    session: AsyncSession,
    account_ids: Sequence[uuid.UUID],
    since: datetime,
    until: datetime,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    """One page of the transactions touching `account_ids` in [since, until), oldest first, with
    their net amount on those accounts (keyset on (created_at, id))."""
    original, model = _model_expr()
    t = LedgerTransaction
    columns = (t.id, t.created_at, t.kind, t.memo, t.actor_label, t.reverses_id)
    stmt = (
        select(
            *columns,
            model.label("model"),
            func.sum(LedgerPosting.amount_micros).label("net"),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .outerjoin(original, original.id == LedgerTransaction.reverses_id)
        .where(*_posted_on(account_ids, since, until))
        .group_by(*columns, "model")
        .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
        .limit(limit)
    )
    if after is not None:
        at, last = after
        stmt = stmt.where(
            or_(
                LedgerTransaction.created_at > at,
                and_(LedgerTransaction.created_at == at, LedgerTransaction.id > last),
            )
        )
    return list((await session.execute(stmt)).all())


async def singleton_movements(
    session: AsyncSession, *, kind: str, since: datetime, until: datetime
) -> dict[str, int]:
    """Per transaction kind: the net postings on the singleton account `kind` in [since, until)."""
    stmt = (
        select(LedgerTransaction.kind, func.sum(LedgerPosting.amount_micros))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(
            LedgerAccount.kind == kind,
            LedgerPosting.created_at >= since,
            LedgerPosting.created_at < until,
        )
        .group_by(LedgerTransaction.kind)
    )
    return {row[0]: int(row[1] or 0) for row in (await session.execute(stmt)).all()}


async def usage_outflow(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], since: datetime, until: datetime
) -> int:
    """What usage took from `account_ids` in [since, until), net of refunds, micros (>= 0 usually)."""
    if not account_ids:
        return 0
    stmt = (
        select(func.coalesce(func.sum(LedgerPosting.amount_micros), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(
            *_posted_on(account_ids, since, until),
            LedgerTransaction.kind.in_(("usage", "refund")),
        )
    )
    return -int((await session.execute(stmt)).scalar_one())


async def accounts_of_kinds(session: AsyncSession, kinds: Sequence[str]) -> list[uuid.UUID]:
    stmt = select(LedgerAccount.id).where(LedgerAccount.kind.in_(list(kinds)))
    return list((await session.execute(stmt)).scalars().all())
