"""Failed-redemption limits per user and per IP (in process: one serving process per database)."""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field

from spectra.kit.clock import monotonic
from spectra.ledger.errors import RedeemRateLimitedError


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
class RedeemLimiter:
    """At most `per_user` failed attempts per user and `per_ip` per IP in `window` seconds."""

    per_user: int = 10
    per_ip: int = 30
    window: float = 600.0
    _users: _Window = field(init=False)
    _ips: _Window = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._users = _Window(self.per_user, self.window)
        self._ips = _Window(self.per_ip, self.window)

    def check(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        now = monotonic()
        waits = [self._users.retry_after(str(user_id), now)]
        if ip:
            waits.append(self._ips.retry_after(ip, now))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            seconds = max(1, int(wait + 0.999))
            raise RedeemRateLimitedError(
                f"Too many invalid codes were tried; try again in {seconds} seconds.",
                retry_after=seconds,
            )

    def failed(self, *, user_id: uuid.UUID, ip: str | None) -> None:
        now = monotonic()
        self._users.add(str(user_id), now)
        if ip:
            self._ips.add(ip, now)


redeem_limiter = RedeemLimiter()
