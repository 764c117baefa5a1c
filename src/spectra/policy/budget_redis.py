"""Key and project budget counters in Redis, shared by every serving process (chosen when
`SPECTRA_REDIS_URL` is set; budget_counters.py is the single-process store).

Keys (prefix P):
    P bud:s:<period>:<period start, epoch s>:<subject>  spend this period, micros; expires a
                                                       day after the period ends
    P bud:r:<subject>  sorted set of reservations "<request id>|<micros>" by expiry (ms)
    P bud:done:<request id>  this request's cost was counted (a day): a replay counts it once

`reserve_within` is one Lua script: it checks every hard budget (spend + reservations in flight
+ this estimate <= budget) and adds the reservation, atomically, so two processes cannot both
take the last room. A spend counter Redis does not have (a cold start, a new period, Redis
restarted) is loaded from the usage records and created with SET NX, then the check runs again.
Settlement swaps the reservation for the cost in one script. A reservation a dead process left
lapses when the hold would (`ttl_seconds`, the workspace's hold expiry).

This process's in-memory counters (what `decide`, `explain` and the alert states read) keep its
own settlements and take the shared totals Redis returns at each check.

Outage: `reserve_within` fails closed (`hold_store_unavailable`, like the hold it precedes);
`release` is best effort (the reservation lapses); a settlement Redis missed is queued and
replayed before the next check that reaches Redis (counted once even if the first attempt did
reach Redis before timing out). A reservation whose script ran although the call timed out is
never released by its refused request; it lapses after `ttl_seconds` (errs toward refusing).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import datetime

from spectra.db.redis import REDIS_DOWN, SharedRedis, lua_script
from spectra.db.session import Database, read_scope
from spectra.ledger.errors import HoldStoreUnavailableError

from . import repository
from .budget_counters import PERIODS, BudgetCheck, BudgetCounters, BudgetRefusal, period_end

log = logging.getLogger(__name__)

MISSED_MAX = 100_000
"""Settlements kept for replay while Redis is down (one per request, so bounded)."""

_RESERVE = lua_script("spectra.policy", "budget_reserve")

_SETTLE = lua_script("spectra.policy", "budget_settle")


class RedisBudgetCounters(BudgetCounters):
    """The budget counters every process shares (see the module)."""

    def __init__(self, db: Database, shared: SharedRedis, time_zone: str = "UTC") -> None:
        super().__init__(time_zone)
        self.db = db
        self.shared = shared
        self._reserve = shared.client.register_script(_RESERVE)
        self._settle = shared.client.register_script(_SETTLE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._missed: deque[tuple[list[str], list[int | str]]] = deque(maxlen=MISSED_MAX)

    def _spent_key(self, period: str, start: datetime, subject: uuid.UUID) -> str:
        return self.shared.key("bud", "s", period, str(int(start.timestamp())), str(subject))

    def _reserved_key(self, subject: uuid.UUID) -> str:
        return self.shared.key("bud", "r", str(subject))

    async def reserve_within(
        self,
        request_id: str,
        checks: Sequence[BudgetCheck],
        subjects: tuple[uuid.UUID, ...],
        micros: int,
        now: datetime,
        *,
        ttl_seconds: int = 900,
    ) -> BudgetRefusal | None:
        if not checks and not subjects:
            return None  # no budget on this key or project: no Redis call
        starts = self.starts(now)
        keys = [self._spent_key(c.period, starts[c.period], c.subject_id) for c in checks]
        keys += [self._reserved_key(c.subject_id) for c in checks]
        keys += [self._reserved_key(s) for s in subjects]
        args: list[int | str] = [len(checks), len(subjects), f"{request_id}|{micros}", micros]
        args += [ttl_seconds * 1000, *(c.allowed_micros for c in checks)]
        try:
            await self._replay()
            result = await self._reserve(keys=keys, args=args)
            if int(result[0]) == 2:
                await self._load([checks[int(i) - 1] for i in result[1:]], now)
                result = await self._reserve(keys=keys, args=args)
        except REDIS_DOWN as exc:
            raise HoldStoreUnavailableError(
                "The shared budget store (Redis) is not answering; retry in a few seconds.",
                retry_after=2,
            ) from exc
        verdict = int(result[0])
        if verdict == 2:  # expired between the load and the check: refuse, never guess
            raise HoldStoreUnavailableError(
                "The shared budget counters are being rebuilt; retry in a few seconds.",
                retry_after=1,
            )
        if verdict == 1:
            index = int(result[1]) - 1
            self._remember(checks[index], int(result[2]), now)
            return BudgetRefusal(index, int(result[2]), int(result[3]))
        for check, spent in zip(checks, result[1:], strict=True):
            self._remember(check, int(spent), now)
        self.reserve(subjects, micros)
        return None

    def _remember(self, check: BudgetCheck, spent: int, now: datetime) -> None:
        """Take the shared total into this process's counters (what reads see)."""
        self._roll(now)
        if check.kind == "key":
            self.keys[check.period][check.subject_id] = spent
        else:
            self.projects[check.subject_id] = spent

    async def _load(self, checks: list[BudgetCheck], now: datetime) -> None:
        """Create the missing spend counters from the usage records (SET NX: a counter another
        process created meanwhile, and has perhaps added to since, is kept)."""
        starts = self.starts(now)
        async with read_scope(self.db) as session:
            for check in checks:
                start = starts[check.period]
                if check.kind == "key":
                    found = await repository.key_spend_since(session, start, [check.subject_id])
                else:
                    found = await repository.project_spend_since(session, start, [check.subject_id])
                end = period_end(check.period, start, self.time_zone)
                ttl_ms = int((end - now).total_seconds() * 1000) + 86_400_000
                await self.shared.client.set(
                    self._spent_key(check.period, start, check.subject_id),
                    found.get(check.subject_id, 0),
                    nx=True,
                    px=max(ttl_ms, 1000),
                )

    async def release(self, request_id: str, subjects: tuple[uuid.UUID, ...], micros: int) -> None:
        self.unreserve(subjects, micros)
        if not subjects:
            return
        keys = [self._reserved_key(s) for s in subjects]
        try:
            await self._settle(keys=keys, args=[len(subjects), f"{request_id}|{micros}", 0])
        except REDIS_DOWN:
            log.warning("Redis unavailable: a budget reservation will lapse on its own")

    def settle(
        self,
        request_id: str,
        subjects: tuple[uuid.UUID, ...],
        reserved: int,
        *,
        key_id: uuid.UUID | None,
        project_id: uuid.UUID | None,
        micros: int,
        at: datetime,
    ) -> None:
        super().settle(
            request_id,
            subjects,
            reserved,
            key_id=key_id,
            project_id=project_id,
            micros=micros,
            at=at,
        )
        if not subjects:
            return
        starts = self.starts(at)
        keys = [self._reserved_key(s) for s in subjects]
        keys.append(self.shared.key("bud", "done", request_id))
        if key_id is not None and key_id in subjects:
            keys += [self._spent_key(p, starts[p], key_id) for p in PERIODS]
        if project_id is not None and project_id in subjects:
            keys.append(self._spent_key("month", starts["month"], project_id))
        args: list[int | str] = [len(subjects), f"{request_id}|{reserved}", max(micros, 0)]
        task = asyncio.ensure_future(self._settle_now(keys, args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle_now(self, keys: list[str], args: list[int | str]) -> None:
        try:
            await self._settle(keys=keys, args=args)
        except REDIS_DOWN:
            self._missed.append((keys, args))
            log.warning("Redis unavailable: a budget settlement is queued for replay")

    async def _replay(self) -> None:
        """Write the settlements Redis missed, oldest first (raises while it is still down)."""
        while self._missed:
            keys, args = self._missed[0]
            await self._settle(keys=keys, args=args)
            self._missed.popleft()

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
