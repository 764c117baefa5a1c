"""Holds: the contract of the gateway's view of available balances (reserve, settle, release)
with no database round trip on the hot path. `InProcessBalanceView` (holds.py) keeps it in one
process; `RedisBalanceView` (holds_redis.py) for several processes sharing one database.

available(account) = balance read from the database
                     - open holds on it
                     - settlements returned by `settle` but not yet written (`written`)

`reserve` splits an estimate across the funding sources in the caller's order, granting only what
each source's available amount covers; when the sources cannot cover the whole estimate nothing
is reserved and `InsufficientFundsError` (`insufficient_funds`) is raised.

THE OVERSPEND BOUND. `settle` charges the real cost in the same funding order. Up to the hold,
each source pays at most what it held. A cost above the hold (the excess = actual - held) is
charged in the same order from what each source still has available; whatever is left of the
excess is charged to the LAST source the hold used (the first source of the plan if the hold
used none), which may go below zero. So one settlement takes one account below zero by at most
its own excess (actual cost - amount still held), and never touches a source outside the plan.
Holds never overlap available money, so concurrent holds cannot overspend at all; only the
excess of settlements above their holds can, each bounded as above. See docs/money.md.

Refresh: the change feed (`ledger.balance`) names accounts another writer changed; the view
re-reads their balance and which of its pending settlements the database already has, in one
snapshot, and recomputes available from that (never overwriting blindly).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from spectra.db.changes import Change
from spectra.ledger.models import TransactionKind

FundingPlan = Sequence[tuple[uuid.UUID, int | None]]
"""Funding sources in order, each with the most it may contribute (None = what it has available)."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Money reserved for one request: `parts` in funding order; `plan` is the full order asked for."""

    id: uuid.UUID
    request_id: str
    amount: int
    parts: tuple[tuple[uuid.UUID, int], ...]
    plan: tuple[tuple[uuid.UUID, int | None], ...]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerTransactionSpec:
    """A ledger transaction to write (`ledger_service.post_spec`): postings sources -> usage_expense."""

    kind: TransactionKind
    postings: tuple[tuple[uuid.UUID, int], ...]
    idempotency_key: str
    memo: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    hold_id: uuid.UUID | None = None

    @property
    def charges(self) -> dict[uuid.UUID, int]:
        """Micros taken from each source (positive)."""
        return {a: -m for a, m in self.postings if m < 0}


class BalanceView(Protocol):
    """Available balances for the gateway: the in-process one below, or `RedisBalanceView`."""

    expense_account_id: uuid.UUID | None

    async def start(self, *, sweep_every: float | None = None) -> None: ...

    async def stop(self) -> None: ...

    async def reserve(
        self, request_id: str, plan: FundingPlan, *, amount: int, expires_in: timedelta
    ) -> Hold: ...

    async def settle(
        self,
        hold: Hold,
        actual_cost: int,
        *,
        idempotency_key: str | None = None,
        memo: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> LedgerTransactionSpec | None: ...

    async def release(self, hold: Hold) -> bool: ...

    async def written(self, spec: LedgerTransactionSpec) -> None: ...

    async def discard(self, spec: LedgerTransactionSpec) -> None: ...

    async def available(self, account_id: uuid.UUID) -> int: ...

    async def available_many(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]: ...

    async def count_open_holds(self) -> int: ...

    async def release_expired(self, now: datetime | None = None) -> int: ...

    async def on_changes(self, changes: list[Change]) -> None: ...

    async def refresh(self, account_ids: Sequence[uuid.UUID]) -> None: ...


def dedupe_plan(plan: FundingPlan) -> list[tuple[uuid.UUID, int | None]]:
    seen: set[uuid.UUID] = set()
    out: list[tuple[uuid.UUID, int | None]] = []
    for account_id, cap in plan:
        if account_id not in seen:
            seen.add(account_id)
            out.append((account_id, cap))
    return out
