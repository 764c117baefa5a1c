"""The in-process `BalanceView`: one gateway process keeps available balances in memory (the
rules every view follows, and the overspend bound, are in `balance_view`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from spectra.db.changes import Change
from spectra.db.session import Database
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import hold_rules as rules
from spectra.ledger.balance_view import (
    BalanceView,
    FundingPlan,
    Hold,
    LedgerTransactionSpec,
    dedupe_plan,
)
from spectra.ledger.errors import HoldNotOpenError

__all__ = [
    "BalanceView",
    "FundingPlan",
    "Hold",
    "InProcessBalanceView",
    "LedgerTransactionSpec",
    "dedupe_plan",
]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Account:
    balance: int
    held: int = 0
    pending: dict[str, int] = field(default_factory=dict)
    """Settled but unwritten debits by idempotency key (positive micros). Change it only through
    `add_pending` / `pop_pending`, which keep `pending_total` equal to its sum."""
    pending_total: int = 0
    """Sum of `pending`, kept as it changes so `available` is O(1) however long the backlog."""
    refresh_log: dict[str, int] | None = None

    @property
    def available(self) -> int:
        return self.balance - self.held - self.pending_total

    def add_pending(self, key: str, charge: int) -> None:
        self.pending[key] = self.pending.get(key, 0) + charge
        self.pending_total += charge

    def pop_pending(self, key: str) -> int | None:
        charge = self.pending.pop(key, None)
        if charge is not None:
            self.pending_total -= charge
        return charge


class InProcessBalanceView:
    """The single-process `BalanceView`. Safe under asyncio concurrency: every decision runs
    without an await between reading and changing the numbers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.expense_account_id: uuid.UUID | None = None
        self._accounts: dict[uuid.UUID, _Account] = {}
        self._holds: dict[uuid.UUID, Hold] = {}
        self._settled: set[uuid.UUID] = set()
        self._lock = asyncio.Lock()
        self._settle_gen = 0
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, *, sweep_every: float | None = None) -> None:
        """Find the usage expense account; with `sweep_every`, release expired holds periodically."""
        await self._ensure_expense()
        if sweep_every:
            self._sweeper = asyncio.create_task(
                self._sweep(sweep_every), name="ledger-hold-sweeper"
            )

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    @property
    def open_holds(self) -> int:
        return len(self._holds)

    async def count_open_holds(self) -> int:
        return len(self._holds)

    async def available(self, account_id: uuid.UUID) -> int:
        await self._ensure([account_id])
        return self._accounts[account_id].available

    async def available_many(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        await self._ensure(account_ids)
        return {a: self._accounts[a].available for a in account_ids}

    async def reserve(
        self, request_id: str, plan: FundingPlan, *, amount: int, expires_in: timedelta
    ) -> Hold:
        """Reserve `amount` across `plan` in order, or raise `InsufficientFundsError` reserving nothing."""
        ordered = rules.check_reserve(plan, amount)
        await self._ensure([a for a, _ in ordered])
        # No await from here on: the decision and the reservation are one atomic step.
        parts: list[tuple[uuid.UUID, int]] = []
        remaining = amount
        for account_id, cap in ordered:
            if remaining == 0:
                break
            can = max(0, self._accounts[account_id].available)
            if cap is not None:
                can = min(can, max(0, cap))
            take = min(can, remaining)
            if take > 0:
                parts.append((account_id, take))
                remaining -= take
        if remaining > 0:
            raise rules.not_covered(amount, amount - remaining)
        for account_id, take in parts:
            self._accounts[account_id].held += take
        now = utc_now()
        hold = rules.new_hold(
            uuid7(),
            request_id,
            ordered,
            amount=amount,
            parts=parts,
            created_at=now,
            expires_at=now + expires_in,
        )
        self._holds[hold.id] = hold
        return hold

    async def settle(
        self,
        hold: Hold,
        actual_cost: int,
        *,
        idempotency_key: str | None = None,
        memo: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> LedgerTransactionSpec | None:
        """Turn a hold into the usage transaction to write (None when the cost is zero).

        A hold already released (or swept) still settles: all of its cost is then excess.
        """
        rules.check_cost(actual_cost)
        if hold.id in self._settled:
            raise HoldNotOpenError("This hold was already settled.", hold_id=str(hold.id))
        await self._ensure([a for a, _ in hold.plan])
        if self.expense_account_id is None:
            await self._ensure_expense()
        assert self.expense_account_id is not None
        still_open = self._holds.pop(hold.id, None) is not None
        self._settled.add(hold.id)
        if still_open:
            for account_id, take in hold.parts:
                self._accounts[account_id].held -= take
        charges, remaining = rules.charge_held(hold.parts if still_open else (), actual_cost)
        if remaining > 0:
            for account_id, cap in hold.plan:
                if remaining == 0:
                    break
                can = max(0, self._accounts[account_id].available - charges.get(account_id, 0))
                if cap is not None:
                    can = min(can, max(0, cap - charges.get(account_id, 0)))
                charge = min(can, remaining)
                if charge:
                    charges[account_id] = charges.get(account_id, 0) + charge
                    remaining -= charge
        rules.charge_rest_to_last(hold, charges, remaining)
        if actual_cost == 0:
            return None
        key = idempotency_key or f"usage:{hold.id}"
        for account_id, charge in charges.items():
            self._accounts[account_id].add_pending(key, charge)
        self._settle_gen += 1
        return rules.usage_spec(
            hold,
            charges,
            actual_cost,
            expense_account_id=self.expense_account_id,
            idempotency_key=key,
            memo=memo,
            metadata=metadata,
        )

    async def release(self, hold: Hold) -> bool:
        """Give the held amounts back; False if the hold was no longer open (idempotent)."""
        if self._holds.pop(hold.id, None) is None:
            return False
        for account_id, take in hold.parts:
            self._accounts[account_id].held -= take
        return True

    async def written(self, spec: LedgerTransactionSpec) -> None:
        """The spec is committed: its pending debits become part of the balance."""
        for account_id, charge in spec.charges.items():
            account = self._accounts.get(account_id)
            if account is None:
                continue
            pending = account.pop_pending(spec.idempotency_key)
            if pending is None:
                continue  # a refresh already read it from the database
            account.balance -= charge
            if account.refresh_log is not None:
                account.refresh_log[spec.idempotency_key] = charge

    async def discard(self, spec: LedgerTransactionSpec) -> None:
        """The spec could not be written: drop its pending debits (the money was not taken)."""
        for account_id in spec.charges:
            account = self._accounts.get(account_id)
            if account is not None:
                account.pop_pending(spec.idempotency_key)

    async def release_expired(self, now: datetime | None = None) -> int:
        """Release every hold past its expiry; returns how many."""
        at = now or utc_now()
        expired = [h for h in self._holds.values() if h.expires_at <= at]
        for hold in expired:
            await self.release(hold)
        return len(expired)

    async def on_changes(self, changes: list[Change]) -> None:
        """Change-feed listener for `ledger.balance`: refresh the accounts this view knows."""
        ids = {a for a in rules.changed_accounts(changes) if a in self._accounts}
        if ids:
            await self.refresh(sorted(ids))

    async def refresh(self, account_ids: Sequence[uuid.UUID]) -> None:
        """Re-read balances from the database and reconcile them with pending settlements."""
        async with self._lock:
            ids = [a for a in account_ids if a in self._accounts]
            for attempt in range(3):
                keys = sorted({k for a in ids for k in self._accounts[a].pending})
                generation = self._settle_gen
                for a in ids:
                    self._accounts[a].refresh_log = {}
                try:
                    fresh, written = await rules.read_balances(self.db, ids, keys)
                except BaseException:
                    for a in ids:
                        self._accounts[a].refresh_log = None
                    raise
                if self._settle_gen != generation and attempt < 2:
                    # A settlement arrived mid-read; its key was not asked about. Read again.
                    for a in ids:
                        self._accounts[a].refresh_log = None
                    continue
                for a in ids:
                    account = self._accounts[a]
                    log_ = account.refresh_log or {}
                    account.refresh_log = None
                    if a not in fresh:
                        continue
                    balance = fresh[a]
                    for key, charge in log_.items():
                        if key not in written:
                            balance -= charge  # written after the snapshot
                    for key in [k for k in account.pending if k in written]:
                        account.pop_pending(key)
                    account.balance = balance
                return

    async def _ensure(self, account_ids: Sequence[uuid.UUID]) -> None:
        if all(a in self._accounts for a in account_ids):
            return
        async with self._lock:
            missing = sorted({a for a in account_ids if a not in self._accounts})
            if not missing:
                return
            fresh, _ = await rules.read_balances(self.db, missing, [])
            for account_id in missing:
                rules.require_found(fresh, [account_id])
                self._accounts[account_id] = _Account(balance=fresh[account_id])

    async def _ensure_expense(self) -> None:
        self.expense_account_id = await rules.usage_expense_account(self.db)

    async def _sweep(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                released = await self.release_expired()
                if released:
                    log.info("released %d expired holds", released)
            except Exception:
                log.exception("hold sweep failed")
