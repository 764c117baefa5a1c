"""The Redis `BalanceView`: the same reserve/settle/release/written/discard rules as
`InProcessBalanceView` (holds.py states them, including THE OVERSPEND BOUND), shared by every
process that serves one database. Each decision is one Lua script, so it is atomic across
processes exactly as the in-process view is atomic across coroutines.

Keys (prefix P):
    P a:<account>   hash: b (balance read from the database, minus written settlements),
                    h (open holds), pt (pending total), sg (settle generation),
                    ws (written sequence), p:<idempotency key> (a pending settlement's debit)
    P w:<account>   list: recent `written` entries "seq|charge|key" (refresh reconciliation)
    P h:<hold>      hash: parts "<account key>=<micros>|...", exp (ms)
    P holds         sorted set of open hold ids by expiry (ms): any process sweeps them
    P s:<hold>      marker: this hold was settled (a day)

Outage (docs/operations.md): `reserve` and `available` raise `HoldStoreUnavailableError` (fail
closed). `settle` never fails for Redis: it charges the hold's parts up to the cost and the
excess to the last source the hold used (within the overspend bound), and the money is written
to the database as usual. What Redis missed (the hold's release, `written`, `discard`, a
refresh of the accounts a degraded settlement charged) is queued in this process and replayed
in order as soon as Redis answers again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from spectra.db.redis import REDIS_DOWN, SharedRedis, lua_script
from spectra.db.session import Database
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import hold_rules as rules
from spectra.ledger.balance_view import FundingPlan, Hold, LedgerTransactionSpec
from spectra.ledger.errors import HoldNotOpenError
from spectra.ledger.holds_outage import Repairs, degraded_charges, unavailable

log = logging.getLogger(__name__)

SETTLED_TTL_SECONDS = 86_400
WRITTEN_LOG_LENGTH = 1000
SWEEP_BATCH = 500

SETTLED_HERE_MAX = 100_000
"""How many recently settled hold ids a process remembers locally (one per request, so bounded)."""

_INIT = lua_script("spectra.ledger", "holds_init")

_AVAILABLE = lua_script("spectra.ledger", "holds_available")

_RESERVE = lua_script("spectra.ledger", "holds_reserve")


# KEYS: holds zset, hold key. ARGV: hold id.
_RELEASE = lua_script("spectra.ledger", "holds_release_fn", "holds_release")

_EXPIRE = lua_script("spectra.ledger", "holds_release_fn", "holds_expire")

_SETTLE = lua_script("spectra.ledger", "holds_settle")

_WRITTEN = lua_script("spectra.ledger", "holds_written")

_DISCARD = lua_script("spectra.ledger", "holds_discard")

_SNAPSHOT = lua_script("spectra.ledger", "holds_snapshot")

_RECONCILE = lua_script("spectra.ledger", "holds_reconcile")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class RedisBalanceView:
    """The shared `BalanceView` (several processes, one database)."""

    def __init__(self, db: Database, shared: SharedRedis) -> None:
        self.db = db
        self.shared = shared
        self.expense_account_id: uuid.UUID | None = None
        client = shared.client
        self._init = client.register_script(_INIT)
        self._available = client.register_script(_AVAILABLE)
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)
        self._expire = client.register_script(_EXPIRE)
        self._settle = client.register_script(_SETTLE)
        self._written = client.register_script(_WRITTEN)
        self._discard = client.register_script(_DISCARD)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._reconcile = client.register_script(_RECONCILE)
        self._settled_here: dict[uuid.UUID, None] = {}
        """Holds this process settled recently (a fast local guard; the settle script's own
        "already settled" answer is the real one). Bounded: oldest dropped first."""
        self._degraded: set[str] = set()
        self._repairs = Repairs(self._repair)

    def _acct(self, account_id: uuid.UUID) -> str:
        return self.shared.key("a", str(account_id))

    def _wlog(self, account_id: uuid.UUID) -> str:
        return self.shared.key("w", str(account_id))

    def _hold(self, hold_id: uuid.UUID | str) -> str:
        return self.shared.key("h", str(hold_id))

    @property
    def _holds(self) -> str:
        return self.shared.key("holds")

    async def start(self, *, sweep_every: float | None = None) -> None:
        """Find the usage expense account and start replaying what an outage left undone.
        Expired holds are swept by the `ledger.holds.expire` job (one process at a time)."""
        await self._ensure_expense()
        self._repairs.start()

    async def stop(self) -> None:
        await self._repairs.stop()

    @property
    def backlog(self) -> int:
        """Operations an outage left to replay against Redis."""
        return len(self._repairs)

    async def count_open_holds(self) -> int:
        try:
            return int(await self.shared.client.zcard(self._holds))
        except REDIS_DOWN as exc:
            raise unavailable() from exc

    async def available(self, account_id: uuid.UUID) -> int:
        return (await self.available_many([account_id]))[account_id]

    async def available_many(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Available micros of each account (loading unknown ones from the database)."""
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return {}
        try:
            for _ in range(2):
                values = await self._available(keys=[self._acct(a) for a in ids])
                missing = [a for a, v in zip(ids, values, strict=True) if v is None]
                if not missing:
                    return {a: int(v) for a, v in zip(ids, values, strict=True)}
                await self._load(missing)
        except REDIS_DOWN as exc:
            raise unavailable() from exc
        raise RuntimeError("balance accounts vanished from Redis while loading")

    async def reserve(
        self, request_id: str, plan: FundingPlan, *, amount: int, expires_in: timedelta
    ) -> Hold:
        """Reserve `amount` across `plan` in order, or raise `InsufficientFundsError` reserving
        nothing; `HoldStoreUnavailableError` when Redis cannot answer."""
        ordered = rules.check_reserve(plan, amount)
        now = utc_now()
        hold_id = uuid7()
        expires_at = now + expires_in
        keys = [self._holds, self._hold(hold_id), *(self._acct(a) for a, _ in ordered)]
        args: list[Any] = [amount, _ms(expires_at), str(hold_id)]
        args += [-1 if cap is None else max(0, cap) for _, cap in ordered]
        try:
            for _ in range(2):
                result = await self._reserve(keys=keys, args=args)
                if int(result[0]) == -1:
                    await self._load([a for a, _ in ordered])
                    continue
                break
        except REDIS_DOWN as exc:
            raise unavailable() from exc
        if int(result[0]) != 1:
            raise rules.not_covered(amount, int(result[1]) if int(result[0]) == 0 else 0)
        takes = [int(t) for t in result[1:]]
        parts = ((a, t) for (a, _), t in zip(ordered, takes, strict=True) if t > 0)
        return rules.new_hold(
            hold_id,
            request_id,
            ordered,
            amount=amount,
            parts=parts,
            created_at=now,
            expires_at=expires_at,
        )

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
        Never fails for Redis: an outage degrades to the hold's own parts (see the module)."""
        rules.check_cost(actual_cost)
        if hold.id in self._settled_here:
            raise HoldNotOpenError("This hold was already settled.", hold_id=str(hold.id))
        if self.expense_account_id is None:
            await self._ensure_expense()
        assert self.expense_account_id is not None
        key = idempotency_key or f"usage:{hold.id}"
        order = [a for a, _ in hold.plan]
        last_account = hold.parts[-1][0] if hold.parts else hold.plan[0][0]
        held = dict(hold.parts)
        keys = [self._holds, self._hold(hold.id), self.shared.key("s", str(hold.id))]
        keys += [self._acct(a) for a in order]
        args: list[Any] = [actual_cost, key, order.index(last_account) + 1]
        args += [SETTLED_TTL_SECONDS, str(hold.id)]
        for account_id, cap in hold.plan:
            args += [-1 if cap is None else max(0, cap), held.get(account_id, 0)]
        charges: dict[uuid.UUID, int]
        try:
            for _ in range(2):
                result = await self._settle(keys=keys, args=args)
                if int(result[0]) == -1:
                    await self._load(order)
                    continue
                break
            if int(result[0]) == -2:
                raise HoldNotOpenError("This hold was already settled.", hold_id=str(hold.id))
            if int(result[0]) != 1:
                raise RuntimeError("balance accounts vanished from Redis while settling")
            charges = {a: int(c) for a, c in zip(order, result[1:], strict=True) if int(c) > 0}
        except REDIS_DOWN as exc:
            log.warning(
                "Redis unavailable (%s: %s): settling hold %s from its own parts",
                type(exc).__name__,
                exc,
                hold.id,
            )
            charges = degraded_charges(hold, actual_cost)
            self._repairs.add("release", hold)
            if actual_cost:
                self._degraded.add(key)
        self._settled_here[hold.id] = None
        if len(self._settled_here) > SETTLED_HERE_MAX:
            del self._settled_here[next(iter(self._settled_here))]
        if actual_cost == 0:
            return None
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
        """Give the held amounts back; False if the hold was no longer open (idempotent).
        During an outage the release is queued and replayed (True: it will happen)."""
        try:
            return bool(await self._release_now(hold.id))
        except REDIS_DOWN:
            self._repairs.add("release", hold)
            return True

    async def _release_now(self, hold_id: uuid.UUID) -> int:
        return int(
            await self._release(keys=[self._holds, self._hold(hold_id)], args=[str(hold_id)])
        )

    async def written(self, spec: LedgerTransactionSpec) -> None:
        """The spec is committed: its pending debits become part of the balance."""
        if spec.idempotency_key in self._degraded:
            self._degraded.discard(spec.idempotency_key)
            self._repairs.add("refresh", sorted(spec.charges))
            return
        try:
            await self._written_now(spec)
        except REDIS_DOWN:
            self._repairs.add("written", spec)

    async def _written_now(self, spec: LedgerTransactionSpec) -> None:
        charges = spec.charges
        keys: list[str] = []
        for account_id in charges:
            keys += [self._acct(account_id), self._wlog(account_id)]
        await self._written(
            keys=keys,
            args=[spec.idempotency_key, WRITTEN_LOG_LENGTH, *charges.values()],
        )

    async def discard(self, spec: LedgerTransactionSpec) -> None:
        """The spec could not be written: drop its pending debits (the money was not taken)."""
        self._degraded.discard(spec.idempotency_key)
        try:
            await self._discard_now(spec)
        except REDIS_DOWN:
            self._repairs.add("discard", spec)

    async def _discard_now(self, spec: LedgerTransactionSpec) -> None:
        await self._discard(keys=[self._acct(a) for a in spec.charges], args=[spec.idempotency_key])

    async def release_expired(self, now: datetime | None = None) -> int:
        """Release every hold past its expiry, whichever process placed it; returns how many."""
        at = _ms(now or utc_now())
        total = 0
        while True:
            released = int(
                await self._expire(
                    keys=[self._holds], args=[at, SWEEP_BATCH, self.shared.key("h", "")]
                )
            )
            total += released
            if released < SWEEP_BATCH:
                return total

    async def on_changes(self, changes: list[Any]) -> None:
        """Change-feed listener for `ledger.balance`: refresh the accounts Redis holds."""
        ids = rules.changed_accounts(changes)
        if not ids:
            return
        try:
            await self.refresh(sorted(ids))
        except REDIS_DOWN:
            self._repairs.add("refresh", sorted(ids))

    async def refresh(self, account_ids: Sequence[uuid.UUID]) -> None:
        """Re-read balances from the database and reconcile them with pending settlements
        (the in-process rule, made safe against settlements of other processes)."""
        for account_id in account_ids:
            for attempt in range(5):
                snap = await self._snapshot(keys=[self._acct(account_id)])
                if not snap:
                    break
                ws, sg, pending = snap[0], snap[1], list(snap[2:])
                fresh, written = await rules.read_balances(self.db, [account_id], pending)
                if account_id not in fresh:
                    break
                applied = int(
                    await self._reconcile(
                        keys=[self._acct(account_id), self._wlog(account_id)],
                        args=[fresh[account_id], ws, sg, *sorted(written)],
                    )
                )
                if applied != -1:
                    break
                if attempt == 4:
                    log.warning("balance refresh of %s kept racing settlements", account_id)

    async def _load(self, account_ids: Sequence[uuid.UUID]) -> None:
        fresh, _ = await rules.read_balances(self.db, sorted(set(account_ids)), [])
        for account_id in account_ids:
            rules.require_found(fresh, [account_id])
            await self._init(keys=[self._acct(account_id)], args=[fresh[account_id]])

    async def _ensure_expense(self) -> None:
        self.expense_account_id = await rules.usage_expense_account(self.db)

    async def _repair(self, op: str, item: Any) -> None:
        """Replay one operation an outage left undone (`Repairs` calls it in order)."""
        if op == "release":
            await self._release_now(item.id)
        elif op == "written":
            await self._written_now(item)
        elif op == "discard":
            await self._discard_now(item)
        else:
            await self.refresh(item)
