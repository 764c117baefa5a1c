"""The Redis balance view with leases: each process holds a slice of an account's available
money (a LEASE) and takes the holds of its requests from it in memory, so a warm request makes
no Redis call to reserve or to read what is available; settlements and `written` are sent in
one pipeline per event-loop turn (`ScriptBatcher`), whatever the number of requests in it.

A lease is an ordinary Redis hold with one part, `holds_lease_grow.lua` grants it atomically out
of the account's available money, and it carries an expiry that this process pushes back while it
runs. So:
- Leases never overlap available money: a lease is money no other process can hold, exactly as
  a request's hold is. Holds taken from a lease never exceed the lease (checked in memory, in one
  event loop). The overspend bound is therefore the one balance_view.py states, unchanged: only
  a settlement above its hold can take an account below zero, by at most its own excess.
- A lease grants at most 1/`LEASE_SHARE` of what the account has available (the rest stays in
  Redis for other processes) and nothing when that share does not cover the request: near zero,
  every request takes its hold in Redis as before (`RedisBalanceView.reserve`), so a wallet at
  zero refuses at once. The slice wanted is `LEASE_REQUESTS` requests of the size that asked, or
  what this process reserved from it in the last `RENEW_SECONDS` if more (it adapts to the rate).
- A request this process's leases cannot cover first gives their unused part back to Redis, then
  takes its hold there: what the member has is never out of reach of one process. Another
  process's leases can make a request that needs nearly all of an account's money wait or be
  refused while they last (at most 1/`LEASE_SHARE` of the account each when granted, given back
  when idle for `IDLE_SECONDS` or when their process stops).
- A process that dies leaves its leases in Redis until they expire (`LEASE_SECONDS`); the sweep
  (`ledger.holds.expire`) then releases them like any hold: their unspent part returns to the
  account. What the process spent is in its settlements (charged in Redis when settled, written
  to the database through the ledger), so a crash never creates money, and the money it held
  is unavailable for at most `LEASE_SECONDS` plus one sweep interval.
- This process stops using a lease `LEASE_MARGIN_SECONDS` before the expiry it last set (by its
  own clock): a sweep by another host whose clock runs ahead by less than that margin cannot
  release a lease still in use.

Revocation and suspension do not go through balances: they stay immediate (the policy decides
before any hold). Outage: like `RedisBalanceView` (fail closed on reserve when the leases do not
cover the request; settle degrades to the hold's own parts; the leases used are dropped here and
expire in Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from spectra.db.redis import REDIS_DOWN, ScriptBatcher, SharedRedis, lua_script
from spectra.db.session import Database
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.ledger import hold_rules as rules
from spectra.ledger.balance_view import FundingPlan, Hold, LedgerTransactionSpec
from spectra.ledger.holds_outage import degraded_charges
from spectra.ledger.holds_redis import SETTLED_HERE_MAX, WRITTEN_LOG_LENGTH, RedisBalanceView

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
"""Expiry of a lease in Redis, pushed back every `RENEW_SECONDS` while the process runs."""

LEASE_MARGIN_SECONDS = 15.0
"""This process stops using a lease this long before the expiry it set (clock skew between
hosts, a renewal that is late)."""

RENEW_SECONDS = 5.0

IDLE_SECONDS = 10.0
"""A lease none of this process's requests used for this long is given back."""

LEASE_SHARE = 4
"""A lease takes at most 1/LEASE_SHARE of an account's available money at each grant."""

LEASE_REQUESTS = 8
"""A lease asks for this many requests of the size that asked (capped by the share)."""

HINT_SECONDS = 1.0
"""How long `available` trusts what Redis said about an account outside this process's lease."""

WRITTEN_WITHIN = 0.05
"""`written` (pending settlement -> balance, which changes no available figure) rides in the next
settlement's pipeline, or goes on its own after this many seconds."""

_GROW = lua_script("spectra.ledger", "holds_lease_grow")
_SHRINK = lua_script("spectra.ledger", "holds_lease_shrink")
_RENEW = lua_script("spectra.ledger", "holds_lease_renew")
_SETTLE = lua_script("spectra.ledger", "holds_lease_settle")


@dataclass(slots=True, eq=False)
class _Lease:
    """This process's slice of one account (a Redis hold `id` of `amount`)."""

    id: str
    account_id: uuid.UUID
    amount: int = 0
    """What this process counts in the lease: never more than Redis holds for it (what it
    takes away is counted here when sent, what Redis grants when Redis answered)."""
    used: int = 0
    """Held by this process's open requests."""
    in_redis: bool = False
    usable_until: float = 0.0
    """Epoch seconds (the view's clock) after which it is not used any more (expiry - margin)."""
    last_use: float = 0.0
    reserved: int = 0
    """Reserved from this lease since the last renewal (the rate the next grant adapts to)."""
    rate: int = 0
    void: bool = False
    growing: asyncio.Future[None] | None = None

    @property
    def free(self) -> int:
        return self.amount - self.used


@dataclass(slots=True)
class _Sub:
    """A request's hold taken from leases: the lease of each plan account (None: not used)."""

    leases: tuple[_Lease | None, ...]
    takes: tuple[int, ...]


class LeasedBalanceView(RedisBalanceView):
    """`RedisBalanceView` with per-process leases (see the module)."""

    def __init__(self, db: Database, shared: SharedRedis) -> None:
        super().__init__(db, shared)
        client = shared.client
        self._grow = client.register_script(_GROW)
        self._shrink = client.register_script(_SHRINK)
        self._renew = client.register_script(_RENEW)
        self._lease_settle = client.register_script(_SETTLE)
        self._batcher = ScriptBatcher(client)
        self._leases: dict[uuid.UUID, _Lease] = {}
        self._subs: dict[uuid.UUID, tuple[Hold, _Sub]] = {}
        self._hints: dict[uuid.UUID, tuple[int, float]] = {}
        """Each account's available money outside this process's leases, as Redis last said,
        and when (monotonic)."""
        self._renewer: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, *, sweep_every: float | None = None) -> None:
        await super().start(sweep_every=sweep_every)
        self._renewer = asyncio.create_task(self._renew_loop())

    async def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        for lease in list(self._leases.values()):
            with contextlib.suppress(*REDIS_DOWN):
                await self._give_back(lease, lease.free)
        self._leases.clear()
        await self._batcher.drain()
        await super().stop()

    def crash(self) -> None:
        """Stop without giving anything back (a test's `kill -9`): the leases stay in Redis
        until they expire and the sweep releases them."""
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        self._leases.clear()
        self._subs.clear()

    @property
    def leased(self) -> dict[uuid.UUID, int]:
        """What this process holds in leases, by account (metrics, tests)."""
        return {a: lease.amount for a, lease in self._leases.items() if lease.in_redis}

    # -- reads --------------------------------------------------------------------------------

    async def available_many(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Redis's figure plus this process's unused lease. Redis's figure is taken from memory
        while it is younger than `HINT_SECONDS` and the sum is above zero (a stale figure that
        is too high only lets the hold decide; one at zero is always asked again)."""
        ids = list(dict.fromkeys(account_ids))
        now = time.monotonic()
        wall = _now()
        out: dict[uuid.UUID, int] = {}
        ask: list[uuid.UUID] = []
        for account_id in ids:
            hint = self._hints.get(account_id)
            mine = self._free(account_id, wall)
            if hint is not None and now - hint[1] < HINT_SECONDS and hint[0] + mine > 0:
                out[account_id] = hint[0] + mine
            else:
                ask.append(account_id)
        if ask:
            fresh = await super().available_many(ask)
            for account_id, value in fresh.items():
                self._hints[account_id] = (value, now)
                out[account_id] = value + self._free(account_id, wall)
        return {a: out[a] for a in ids}

    def _free(self, account_id: uuid.UUID, wall: float) -> int:
        lease = self._leases.get(account_id)
        return lease.free if lease is not None and _usable(lease, wall) else 0

    async def count_open_holds(self) -> int:
        """Open holds: this process's taken from leases, and every hold in Redis but this
        process's own leases (other processes' leases count as holds)."""
        mine = sum(1 for lease in self._leases.values() if lease.in_redis)
        return len(self._subs) + max(0, await super().count_open_holds() - mine)

    # -- reserve ------------------------------------------------------------------------------

    async def reserve(
        self, request_id: str, plan: FundingPlan, *, amount: int, expires_in: timedelta
    ) -> Hold:
        ordered = rules.check_reserve(plan, amount)
        for _ in range(2):
            taken = self._take(ordered, amount)
            if isinstance(taken, _Sub):
                return self._open(taken, request_id, ordered, amount, expires_in)
            index, need = taken
            if index < 0 or not await self._grow_for(ordered[index][0], need):
                break
        # Not coverable from this process's leases: give their unused part back, then take
        # the hold in Redis where every process's money meets.
        for account_id, _ in ordered:
            lease = self._leases.get(account_id)
            if lease is not None and lease.free > 0:
                with contextlib.suppress(*REDIS_DOWN):
                    await self._give_back(lease, lease.free)
        try:
            return await super().reserve(request_id, plan, amount=amount, expires_in=expires_in)
        finally:
            self._forget(a for a, _ in ordered)

    def _forget(self, account_ids: Iterable[uuid.UUID]) -> None:
        """This process changed these accounts in Redis: read them again."""
        for account_id in account_ids:
            self._hints.pop(account_id, None)

    def _take(self, ordered: rules.Plan, amount: int) -> _Sub | tuple[int, int]:
        """The hold's parts from leases in plan order, each account covering all it would give
        in Redis (min(cap, what is left)); or (index, need) of the first account whose lease
        falls short ((-1, 0): the caps cannot cover the amount, Redis refuses)."""
        wall = _now()
        remaining = amount
        leases: list[_Lease | None] = []
        takes: list[int] = []
        for index, (account_id, cap) in enumerate(ordered):
            need = remaining if cap is None else min(max(cap, 0), remaining)
            if need == 0:
                leases.append(None)
                takes.append(0)
                continue
            lease = self._leases.get(account_id)
            if lease is None or not _usable(lease, wall) or lease.free < need:
                return index, need
            leases.append(lease)
            takes.append(need)
            remaining -= need
        if remaining > 0:
            return -1, 0
        now = time.monotonic()
        for lease, take in zip(leases, takes, strict=True):
            if lease is not None:
                lease.used += take
                lease.reserved += take
                lease.last_use = now
        return _Sub(tuple(leases), tuple(takes))

    def _open(
        self,
        sub: _Sub,
        request_id: str,
        ordered: rules.Plan,
        amount: int,
        expires_in: timedelta,
    ) -> Hold:
        now = utc_now()
        parts = [(a, t) for (a, _), t in zip(ordered, sub.takes, strict=True) if t > 0]
        hold = rules.new_hold(
            uuid7(),
            request_id,
            ordered,
            amount=amount,
            parts=parts,
            created_at=now,
            expires_at=now + expires_in,
        )
        self._subs[hold.id] = (hold, sub)
        return hold

    async def _grow_for(self, account_id: uuid.UUID, need: int) -> bool:
        """Ask Redis for more lease on the account that fell short; True if it may now cover."""
        lease = self._leases.get(account_id)
        if lease is not None and lease.growing is not None:
            await asyncio.shield(lease.growing)
            return True
        if lease is not None and lease.in_redis and not _usable(lease, _now()):
            # Not renewed in time: stop using it (it expires in Redis; its open holds settle).
            if lease.used == 0:
                with contextlib.suppress(*REDIS_DOWN):
                    await self._give_back(lease, lease.free)
            self._void(lease)
            lease = None
        if lease is None:
            lease = _Lease(str(uuid7()), account_id)
            self._leases[account_id] = lease
        shortfall = need - max(lease.free, 0)
        want = max(need * LEASE_REQUESTS, lease.rate, shortfall)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lease.growing = future
        try:
            return await self._grow_lease(lease, want, shortfall)
        except REDIS_DOWN:
            return False
        finally:
            lease.growing = None
            future.set_result(None)

    async def _grow_lease(self, lease: _Lease, want: int, least: int) -> bool:
        expiry = _now() + LEASE_SECONDS
        keys = [self._holds, self._hold(lease.id), self._acct(lease.account_id)]
        must_exist = 1 if lease.amount > 0 else 0
        args: list[Any] = [want, least, int(expiry * 1000), lease.id, must_exist, LEASE_SHARE]
        for _ in range(2):
            result = await self._grow(keys=keys, args=args)
            if int(result[0]) == -1:
                await self._load([lease.account_id])
                continue
            break
        if int(result[0]) == -2:
            self._void(lease)
            return False
        if int(result[0]) != 1:
            return False
        grant, amount, others = int(result[1]), int(result[2]), int(result[3])
        self._hints[lease.account_id] = (others, time.monotonic())
        lease.amount += grant
        if amount > 0:
            lease.in_redis = True
            lease.usable_until = expiry - LEASE_MARGIN_SECONDS
        return grant > 0

    async def _give_back(self, lease: _Lease, amount: int) -> None:
        """Return `amount` of the lease's unused part to the account."""
        amount = min(amount, lease.free)
        if amount <= 0 or not lease.in_redis:
            return
        lease.amount -= amount
        self._hints.pop(lease.account_id, None)
        result = int(
            await self._shrink(
                keys=[self._holds, self._hold(lease.id), self._acct(lease.account_id)],
                args=[amount, lease.id],
            )
        )
        if result <= 0:
            lease.in_redis = False
            if result < 0 or lease.used:
                self._void(lease)

    def _void(self, lease: _Lease) -> None:
        """The lease is gone from Redis (swept) or may be: never take from it again."""
        lease.void = True
        if self._leases.get(lease.account_id) is lease:
            del self._leases[lease.account_id]

    # -- settle, release ----------------------------------------------------------------------

    async def settle(
        self,
        hold: Hold,
        actual_cost: int,
        *,
        idempotency_key: str | None = None,
        memo: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> LedgerTransactionSpec | None:
        rules.check_cost(actual_cost)
        found = self._subs.pop(hold.id, None)
        if found is None:
            self._forget(a for a, _ in hold.plan)
            return await super().settle(
                hold, actual_cost, idempotency_key=idempotency_key, memo=memo, metadata=metadata
            )
        sub = found[1]
        self._settled(hold.id)
        if self.expense_account_id is None:
            await self._ensure_expense()
        assert self.expense_account_id is not None
        key = idempotency_key or f"usage:{hold.id}"
        order = [a for a, _ in hold.plan]
        last_account = hold.parts[-1][0] if hold.parts else hold.plan[0][0]
        expiry = _now() + LEASE_SECONDS
        keys = [self._holds, *(self._acct(a) for a in order)]
        args: list[Any] = [actual_cost, key, order.index(last_account) + 1, int(expiry * 1000)]
        lease_charges = self._charge_leases(hold, sub, actual_cost)
        for (_, cap), (lease, charge) in zip(hold.plan, lease_charges, strict=True):
            lease_id = lease.id if lease is not None else "none"
            keys.append(self._hold(lease_id))
            args += [-1 if cap is None else max(0, cap), charge, lease_id]
        if actual_cost > sum(charge for _, charge in lease_charges):
            self._forget(order)  # Redis charges the rest from what is available
        charges: dict[uuid.UUID, int]
        try:
            for _ in range(2):
                result = await self._batcher.run(self._lease_settle, keys, args)
                if int(result[0]) == -1:
                    await self._load(order)
                    continue
                break
            if int(result[0]) != 1:
                raise RuntimeError("balance accounts vanished from Redis while settling")
            n = len(order)
            charges = {a: int(c) for a, c in zip(order, result[1 : 1 + n], strict=True) if int(c)}
            for (lease, _), amount in zip(lease_charges, result[1 + n :], strict=True):
                if lease is not None and int(amount) < 0:
                    self._void(lease)
        except REDIS_DOWN as exc:
            log.warning(
                "Redis unavailable (%s: %s): settling hold %s from its own parts",
                type(exc).__name__,
                exc,
                hold.id,
            )
            charges = degraded_charges(hold, actual_cost)
            for lease, _ in lease_charges:
                if lease is not None:
                    self._void(lease)  # it expires in Redis; a refresh after `written` repairs
            if actual_cost:
                self._degraded.add(key)
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

    def _charge_leases(self, hold: Hold, sub: _Sub, cost: int) -> list[tuple[_Lease | None, int]]:
        """What this process's leases pay of `cost`, per plan account: the hold's parts up to
        the cost, then the excess from the leases' unused part in plan order within each cap
        (what Redis would charge from the available money, the overspend bound's order).
        Counted out of the leases here; the settle script takes it out in Redis."""
        wall = _now()
        for lease, take in zip(sub.leases, sub.takes, strict=True):
            if lease is not None:
                lease.used -= take
        out: list[tuple[_Lease | None, int]] = []
        remaining = cost
        for lease, take in zip(sub.leases, sub.takes, strict=True):
            charge = min(take, remaining) if lease is not None and not lease.void else 0
            out.append((lease if lease is not None and not lease.void else None, charge))
            remaining -= charge
        for i, (account_id, cap) in enumerate(hold.plan):
            if remaining == 0:
                break
            lease, charge = out[i]
            if lease is None:
                current = self._leases.get(account_id)
                lease = current if current is not None and _usable(current, wall) else None
            if lease is None:
                continue
            room = lease.free - charge
            if cap is not None:
                room = min(room, max(cap, 0) - charge)
            extra = max(0, min(room, remaining))
            out[i] = (lease, charge + extra)
            remaining -= extra
        for lease, charge in out:
            if lease is not None:
                lease.amount -= charge
        return out

    async def release(self, hold: Hold) -> bool:
        found = self._subs.pop(hold.id, None)
        if found is None:
            self._forget(a for a, _ in hold.parts)
            return await super().release(hold)
        self._settled(hold.id)
        self._unhold(found[1])
        return True

    def _settled(self, hold_id: uuid.UUID) -> None:
        """A hold taken from leases is closed: a second settle refuses here (Redis never saw it)."""
        self._settled_here[hold_id] = None
        if len(self._settled_here) > SETTLED_HERE_MAX:
            del self._settled_here[next(iter(self._settled_here))]

    @staticmethod
    def _unhold(sub: _Sub) -> None:
        for lease, take in zip(sub.leases, sub.takes, strict=True):
            if lease is not None:
                lease.used -= take

    async def release_expired(self, now: datetime | None = None) -> int:
        """This process's holds taken from leases past their expiry, then every hold in Redis
        past its expiry (other processes' too, and leases nobody renewed)."""
        at = now or utc_now()
        expired = [(h, sub) for h, sub in self._subs.values() if h.expires_at <= at]
        for hold, sub in expired:
            del self._subs[hold.id]
            self._unhold(sub)
        released = await super().release_expired(now)
        if released:
            self._hints.clear()
        return len(expired) + released

    async def discard(self, spec: LedgerTransactionSpec) -> None:
        self._forget(spec.charges)
        await super().discard(spec)

    async def refresh(self, account_ids: Sequence[uuid.UUID]) -> None:
        self._forget(account_ids)
        await super().refresh(account_ids)

    async def _written_now(self, spec: LedgerTransactionSpec) -> None:
        charges = spec.charges
        keys: list[str] = []
        for account_id in charges:
            keys += [self._acct(account_id), self._wlog(account_id)]
        args: list[Any] = [spec.idempotency_key, WRITTEN_LOG_LENGTH, *charges.values()]
        await self._batcher.later(self._written, keys, args, WRITTEN_WITHIN)

    async def on_changes(self, changes: list[Any]) -> None:
        for account_id in rules.changed_accounts(changes):
            self._hints.pop(account_id, None)
        await super().on_changes(changes)

    # -- background ---------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self.renew()
            except REDIS_DOWN as exc:
                log.warning("Redis unavailable (%s): leases not renewed", type(exc).__name__)
            except Exception:
                log.exception("lease renewal failed")

    async def renew(self) -> None:
        """Give back idle leases, push back the expiry of the others, adapt their rate."""
        now = time.monotonic()
        keep: list[_Lease] = []
        for lease in list(self._leases.values()):
            lease.rate = max(lease.reserved, (lease.rate + lease.reserved) // 2)
            lease.reserved = 0
            if lease.used == 0 and now - lease.last_use > IDLE_SECONDS:
                await self._give_back(lease, lease.free)
                self._void(lease)
            elif lease.in_redis:
                keep.append(lease)
        if not keep:
            return
        expiry = _now() + LEASE_SECONDS
        flags = await self._renew(
            keys=[self._holds, *(self._hold(lease.id) for lease in keep)],
            args=[int(expiry * 1000), *(lease.id for lease in keep)],
        )
        for lease, flag in zip(keep, flags, strict=True):
            if int(flag):
                lease.usable_until = expiry - LEASE_MARGIN_SECONDS
            else:
                lease.in_redis = False
                self._void(lease)


def _now() -> float:
    """Epoch seconds by the view's clock (`utc_now`, which tests may move)."""
    return utc_now().timestamp()


def _usable(lease: _Lease, wall: float) -> bool:
    return not lease.void and lease.in_redis and wall < lease.usable_until
