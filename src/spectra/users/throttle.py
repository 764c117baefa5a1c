"""Sign-in rate limiting per email and per client IP: in process by default, in Redis when
several processes serve (`SPECTRA_REDIS_URL`), behind one interface (`SignInThrottle`).

Why not a table: a failed sign-in rolls its unit of work back, so a counter in the database
would vanish with it (or need a second, committed transaction outside the service's unit of
work). In the embedded default one process serves a database (the serve lease), so one
in-process counter sees every attempt; a restart clears lockouts, which is acceptable. With
Redis, every process counts into the same keys, so N processes do not allow N times the tries.

Rule: 5 failures for one email, or 20 from one IP, within 15 minutes lock that email or IP
for 15 minutes. A success clears the email's count. The in-process table is bounded (oldest
entries go). If Redis cannot answer, each process falls back to its own in-process counts
(weaker by the number of processes, never unlimited, and sign-in keeps working).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from spectra.db.redis import REDIS_DOWN, SharedRedis
from spectra.kit.clock import monotonic
from spectra.kit.ids import uuid7

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
MAX_ENTRIES = 100_000


class SignInThrottle(Protocol):
    async def locked_for(self, *, email: str, ip: str | None) -> tuple[str, float] | None:
        """("email" | "ip", seconds left) when either is locked now, else None."""
        ...

    async def record_failure(self, *, email: str, ip: str | None) -> None: ...

    async def record_success(self, *, email: str) -> None: ...


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class InProcessSignInThrottle:
    """The embedded default: one process's counts, in memory."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def locked_for(self, *, email: str, ip: str | None) -> tuple[str, float] | None:
        now = monotonic()
        for scope, key in _scopes(email, ip):
            entry = self._entries.get(key)
            if entry is not None and entry.locked_until > now:
                return scope, entry.locked_until - now
        return None

    async def record_failure(self, *, email: str, ip: str | None) -> None:
        for scope, key in _scopes(email, ip):
            self._bump(key, _LIMITS[scope])

    async def record_success(self, *, email: str) -> None:
        self._entries.pop(f"email:{email}", None)

    def reset(self) -> None:
        self._entries.clear()

    def _bump(self, key: str, limit: int) -> None:
        now = monotonic()
        entry = self._entries.pop(key, None) or _Entry()
        entry.failures = [t for t in entry.failures if now - t < WINDOW_SECONDS]
        entry.failures.append(now)
        if len(entry.failures) >= limit:
            entry.locked_until = now + LOCK_SECONDS
            entry.failures.clear()
        self._entries[key] = entry
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)


# KEYS: failures (sorted set of attempt ids scored by ms), lock. ARGV: limit, window s, lock s,
# attempt id. Redis's own clock, so hosts need not agree on the time.
_FAIL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[3]) * 1000)
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], window)
end
return 0
"""


class RedisSignInThrottle:
    """Counts shared by every process on one Redis; the same rule as in process."""

    def __init__(self, redis: SharedRedis) -> None:
        self.redis = redis
        self.fallback = InProcessSignInThrottle()
        self._fail = redis.client.register_script(_FAIL)

    def _key(self, kind: str, key: str) -> str:
        return self.redis.key("signin", kind, key)

    async def locked_for(self, *, email: str, ip: str | None) -> tuple[str, float] | None:
        scopes = _scopes(email, ip)
        try:
            async with self.redis.client.pipeline(transaction=False) as pipe:
                for _scope, key in scopes:
                    pipe.pttl(self._key("lock", key))
                left = await pipe.execute()
        except REDIS_DOWN:
            log.warning("Redis unavailable: sign-in throttle falls back to this process")
            return await self.fallback.locked_for(email=email, ip=ip)
        for (scope, _key), ms in zip(scopes, left, strict=True):
            if int(ms) > 0:
                return scope, int(ms) / 1000
        return None

    async def record_failure(self, *, email: str, ip: str | None) -> None:
        try:
            for scope, key in _scopes(email, ip):
                await self._fail(
                    keys=[self._key("fail", key), self._key("lock", key)],
                    args=[_LIMITS[scope], WINDOW_SECONDS, LOCK_SECONDS, str(uuid7())],
                )
        except REDIS_DOWN:
            await self.fallback.record_failure(email=email, ip=ip)

    async def record_success(self, *, email: str) -> None:
        with contextlib.suppress(*REDIS_DOWN):
            await self.redis.client.delete(self._key("fail", f"email:{email}"))
        await self.fallback.record_success(email=email)


_LIMITS = {"email": MAX_FAILURES_PER_EMAIL, "ip": MAX_FAILURES_PER_IP}


def _scopes(email: str, ip: str | None) -> list[tuple[str, str]]:
    scopes = [("email", f"email:{email}")]
    if ip:
        scopes.append(("ip", f"ip:{ip}"))
    return scopes


throttle = InProcessSignInThrottle()
"""The process's in-process throttle (the embedded default; tests reset it)."""

_current: SignInThrottle = throttle


def current() -> SignInThrottle:
    """The throttle this process uses now (Redis-backed while a process with Redis serves)."""
    return _current


def use(chosen: SignInThrottle | None) -> None:
    """Use `chosen` from now on; None goes back to the in-process default."""
    global _current
    _current = chosen if chosen is not None else throttle
