"""What both balance views (`holds.InProcessBalanceView`, `holds_redis.RedisBalanceView`) do the
same way: the checks before a hold or a settlement, the refusal, the hold and the usage
transaction they build, the overspend bound's charging (balance_view.py states it) and the
database reads behind a view."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from spectra.db.changes import Change
from spectra.db.session import Database, read_scope, session_scope
from spectra.errors import InvalidError
from spectra.ledger import repository as repo
from spectra.ledger.balance_view import FundingPlan, Hold, LedgerTransactionSpec, dedupe_plan
from spectra.ledger.errors import AccountNotFoundError, InsufficientFundsError
from spectra.ledger.models import AccountKind, TransactionKind

Plan = list[tuple[uuid.UUID, int | None]]


def check_reserve(plan: FundingPlan, amount: int) -> Plan:
    """The plan without repeated sources; refuses a hold of zero or one nothing may pay for."""
    if amount <= 0:
        raise InvalidError("A hold must be for more than zero.", amount=amount)
    ordered = dedupe_plan(plan)
    if not ordered:
        raise InsufficientFundsError(
            "No funding source may pay for this request.",
            needed_micros=amount,
            available_micros=0,
        )
    return ordered


def not_covered(amount: int, available: int) -> InsufficientFundsError:
    return InsufficientFundsError(
        "The balance available to this request does not cover its estimated cost.",
        needed_micros=amount,
        available_micros=available,
    )


def check_cost(actual_cost: int) -> None:
    if actual_cost < 0:
        raise InvalidError("A cost cannot be negative.", actual_cost=actual_cost)


def new_hold(
    hold_id: uuid.UUID,
    request_id: str,
    ordered: Plan,
    *,
    amount: int,
    parts: Iterable[tuple[uuid.UUID, int]],
    created_at: datetime,
    expires_at: datetime,
) -> Hold:
    return Hold(
        id=hold_id,
        request_id=request_id,
        amount=amount,
        parts=tuple(parts),
        plan=tuple(ordered),
        created_at=created_at,
        expires_at=expires_at,
    )


def charge_held(
    parts: Iterable[tuple[uuid.UUID, int]], actual_cost: int
) -> tuple[dict[uuid.UUID, int], int]:
    """Up to the hold: each part pays at most what it held, in order. Returns the charges and
    what is left of the cost."""
    charges: dict[uuid.UUID, int] = {}
    remaining = actual_cost
    for account_id, take in parts:
        charge = min(take, remaining)
        if charge:
            charges[account_id] = charges.get(account_id, 0) + charge
            remaining -= charge
    return charges, remaining


def charge_rest_to_last(hold: Hold, charges: dict[uuid.UUID, int], remaining: int) -> None:
    """What is left goes to the last source the hold used (the first of the plan if none)."""
    if remaining > 0:
        last = hold.parts[-1][0] if hold.parts else hold.plan[0][0]
        charges[last] = charges.get(last, 0) + remaining


def usage_spec(
    hold: Hold,
    charges: Mapping[uuid.UUID, int],
    actual_cost: int,
    *,
    expense_account_id: uuid.UUID,
    idempotency_key: str,
    memo: str,
    metadata: Mapping[str, Any] | None,
) -> LedgerTransactionSpec:
    """The usage transaction: each source's charge in plan order, the cost to usage expense."""
    postings = [(a, -charges[a]) for a, _ in hold.plan if charges.get(a)]
    postings.append((expense_account_id, actual_cost))
    return LedgerTransactionSpec(
        kind=TransactionKind.USAGE,
        postings=tuple(postings),
        idempotency_key=idempotency_key,
        memo=memo,
        metadata=dict(metadata or {}),
        hold_id=hold.id,
    )


def changed_accounts(changes: list[Change]) -> set[uuid.UUID]:
    """The account ids a batch of `ledger.balance` changes names (malformed ones skipped)."""
    ids: set[uuid.UUID] = set()
    for change in changes:
        if change.entity_id is None:
            continue
        with contextlib.suppress(ValueError):
            ids.add(uuid.UUID(change.entity_id))
    return ids


async def read_balances(
    db: Database, ids: Sequence[uuid.UUID], keys: Sequence[str]
) -> tuple[dict[uuid.UUID, int], set[str]]:
    """Balances of `ids` and which idempotency `keys` are written, in one snapshot."""
    async with read_scope(db) as session:
        if db.dialect == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return await repo.balances_with_keys(session, ids, keys)


def require_found(fresh: Mapping[uuid.UUID, int], account_ids: Iterable[uuid.UUID]) -> None:
    for account_id in account_ids:
        if account_id not in fresh:
            raise AccountNotFoundError(
                "A funding source names a ledger account that does not exist.",
                account_id=str(account_id),
            )


async def usage_expense_account(db: Database) -> uuid.UUID:
    from spectra.ledger.service.accounts import get_or_create_account

    async with session_scope(db) as session:
        account = await get_or_create_account(session, kind=AccountKind.USAGE_EXPENSE)
        return account.id
