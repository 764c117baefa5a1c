"""Failed-redemption limits per user and per IP: in process by default (one serving process per
database), in Redis when several processes serve (`SPECTRA_REDIS_URL`), behind one interface
(`RedeemLimiter`). If Redis cannot answer, each process falls back to its own counts."""

from __future__ import annotations

import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from spectra.db.redis import REDIS_DOWN, SharedRedis, lua_script
from spectra.kit.clock import monotonic
from spectra.kit.ids import uuid7
from spectra.ledger.errors import RedeemRateLimitedError

log = logging.getLogger(__name__)

PER_USER = 10
PER_IP = 30
WINDOW_SECONDS = 600.0


class RedeemLimiter(Protocol):
    async def check(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        """Raise `RedeemRateLimitedError` while the user or the IP is over its limit."""
        ...

    async def failed(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        """Count one failed attempt for the user and the IP."""
        ...


@dataclass
class _Window:
    limit: int
    seconds: float
    hits: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, key: str, now: float) -> float | None:
        q = self.hits.get(key)
        if not q:
            return None
        while q and q[0] <= now - self.seconds:
            q.popleft()
        if len(q) < self.limit:
            return None
        return q[0] + self.seconds - now

    def add(self, key: str, now: float) -> None:
        self.hits.setdefault(key, deque()).append(now)


@dataclass
class InProcessRedeemLimiter:
    """At most `per_user` failed attempts per user and `per_ip` per IP in `window` seconds."""

    per_user: int = PER_USER
    per_ip: int = PER_IP
    window: float = WINDOW_SECONDS
    _users: _Window = field(init=False)
    _ips: _Window = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._users = _Window(self.per_user, self.window)
        self._ips = _Window(self.per_ip, self.window)

    async def check(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        now = monotonic()
        waits = [self._users.retry_after(str(user_id), now)]
        if ip:
            waits.append(self._ips.retry_after(ip, now))
        _refuse(max((w for w in waits if w is not None), default=None))

    async def failed(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        now = monotonic()
        self._users.add(str(user_id), now)
        if ip:
            self._ips.add(ip, now)


_CHECK = lua_script("spectra.ledger", "ratelimit_check")

_FAILED = lua_script("spectra.ledger", "ratelimit_failed")


class RedisRedeemLimiter:
    """The same limits, counted in Redis by every process (Redis's clock)."""

    def __init__(
        self,
        redis: SharedRedis,
        *,
        per_user: int = PER_USER,
        per_ip: int = PER_IP,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.redis = redis
        self.per_user = per_user
        self.per_ip = per_ip
        self.window = int(window)
        self.fallback = InProcessRedeemLimiter(per_user, per_ip, window)
        self._check = redis.client.register_script(_CHECK)
        self._failed = redis.client.register_script(_FAILED)

    def _keys(self, user_id: uuid.UUID, ip: str | None) -> tuple[list[str], list[int]]:
        keys = [self.redis.key("redeem", "user", str(user_id))]
        limits = [self.per_user]
        if ip:
            keys.append(self.redis.key("redeem", "ip", ip))
            limits.append(self.per_ip)
        return keys, limits

    async def check(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        keys, limits = self._keys(user_id, ip)
        try:
            wait_ms = int(await self._check(keys=keys, args=[self.window, *limits]))
        except REDIS_DOWN:
            log.warning("Redis unavailable: redemption limits fall back to this process")
            await self.fallback.check(user_id=user_id, ip=ip)
            return
        _refuse(wait_ms / 1000 if wait_ms > 0 else None)

    async def failed(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        keys, _ = self._keys(user_id, ip)
        try:
            await self._failed(keys=keys, args=[self.window, str(uuid7())])
        except REDIS_DOWN:
            await self.fallback.failed(user_id=user_id, ip=ip)


def _refuse(wait: float | None) -> None:
    if wait is None:
        return
    seconds = max(1, int(wait + 0.999))
    raise RedeemRateLimitedError(
        f"Too many invalid codes were tried; try again in {seconds} seconds.",
        retry_after=seconds,
    )


redeem_limiter = InProcessRedeemLimiter()
"""The process's in-process limiter (the embedded default; tests reset it)."""

_current: RedeemLimiter = redeem_limiter


def current() -> RedeemLimiter:
    """The limiter this process uses now (Redis-backed while a process with Redis serves)."""
    return _current


def use(chosen: RedeemLimiter | None) -> None:
    """Use `chosen` from now on; None goes back to the in-process default."""
    global _current
    _current = chosen if chosen is not None else redeem_limiter
