"""Rate-limit counters in Redis, shared by every serving process: requests and tokens per minute
in one-second buckets over a sliding 60-second window, and open requests as a sorted set of
slots that lapse on their own (a process that died cannot strand them for longer than
`SLOT_TTL_SECONDS`). One Lua script checks every limit and counts the request, atomically.
The clock is Redis's own (`TIME`), so hosts need not agree on the time.

Outage: `acquire` fails closed (`hold_store_unavailable`, like the hold it precedes); `finish`
is best effort (the slot lapses, the token correction is dropped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from spectra.db.redis import REDIS_DOWN, SharedRedis, lua_script
from spectra.kit.ids import uuid7
from spectra.ledger.errors import HoldStoreUnavailableError

from .errors import ConcurrencyLimitExceededError, RateLimitExceededError
from .limits import Lease, Limit

log = logging.getLogger(__name__)

SLOT_TTL_SECONDS = 900
WINDOW = 60

_ACQUIRE = lua_script("spectra.gateway", "limits_acquire")

_FINISH = lua_script("spectra.gateway", "limits_finish")


class RedisRateLimiter:
    """The shared `Limiter`: the in-process rules (limits.RateLimiter) across processes."""

    def __init__(self, shared: SharedRedis) -> None:
        self.shared = shared
        self._acquire = shared.client.register_script(_ACQUIRE)
        self._finish = shared.client.register_script(_FINISH)
        self._tasks: set[asyncio.Task[None]] = set()

    def _keys(self, scope: str, subject: str) -> list[str]:
        base = self.shared.key("rl", scope, subject)
        return [f"{base}:r", f"{base}:t", f"{base}:c"]

    async def acquire(self, limits: Iterable[Limit], tokens: int) -> Lease:
        active = [lim for lim in limits if lim.rpm or lim.tpm or lim.concurrency]
        lease_id = str(uuid7())
        if not active:
            return Lease(self, (), tokens, id=lease_id)
        keys: list[str] = []
        args: list[int | str] = [tokens, lease_id, SLOT_TTL_SECONDS, 0]
        for lim in active:
            keys += self._keys(lim.scope, lim.subject)
            args += [_arg(lim.rpm), _arg(lim.tpm), _arg(lim.concurrency)]
        try:
            result = await self._acquire(keys=keys, args=args)
        except REDIS_DOWN as exc:
            raise HoldStoreUnavailableError(
                "The shared rate-limit store (Redis) is not answering; retry in a few seconds.",
                retry_after=2,
            ) from exc
        verdict = int(result[0])
        if verdict:
            lim = active[int(result[1]) - 1]
            wait = int(result[2])
            if verdict == 1:
                raise ConcurrencyLimitExceededError(
                    f"{lim.label} may have {lim.concurrency} requests open at once; "
                    "wait for one to finish and try again.",
                    scope=lim.scope,
                    retry_after=1,
                )
            what = f"send {lim.rpm} requests" if verdict == 2 else f"use {lim.tpm} tokens"
            raise RateLimitExceededError(
                f"{lim.label} may {what} per minute; wait {wait} s and try again.",
                scope=lim.scope,
                retry_after=wait,
            )
        return Lease(self, tuple((lim.scope, lim.subject) for lim in active), tokens, id=lease_id)

    def finish(self, lease: Lease, actual_tokens: int | None) -> None:
        if not lease.keys:
            return
        delta = 0 if actual_tokens is None else actual_tokens - lease.tokens
        keys: list[str] = []
        for scope, subject in lease.keys:
            r_key, t_key, c_key = self._keys(scope, subject)
            del r_key
            keys += [t_key, c_key]
        task = asyncio.ensure_future(self._finish_now(keys, lease.id, delta))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish_now(self, keys: list[str], lease_id: str, delta: int) -> None:
        try:
            await self._finish(keys=keys, args=[lease_id, delta])
        except REDIS_DOWN:
            log.warning("Redis unavailable: a rate-limit slot will lapse on its own")

    async def flush(self) -> None:
        """Wait for queued `finish` calls (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _arg(value: int | None) -> int:
    return -1 if value is None else value
