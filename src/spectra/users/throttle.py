"""Sign-in rate limiting, in memory, per email and per client IP.

Why in memory and not a table: a failed sign-in rolls its unit of work back, so a counter in
the database would vanish with it (or need a second, committed transaction outside the
service's unit of work). One Spectra process serves a database (the serve lease), so one
in-process counter sees every attempt; a restart clears lockouts, which is acceptable. When
shared state moves to Redis, this moves with it.

Rule: 5 failures for one email, or 20 from one IP, within 15 minutes lock that email or IP
for 15 minutes. A success clears the email's count. The table is bounded (oldest entries go).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from spectra.kit.clock import monotonic

WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
MAX_ENTRIES = 100_000


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class SignInThrottle:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def locked_for(self, *, email: str, ip: str | None) -> tuple[str, float] | None:
        """("email" | "ip", seconds left) when either is locked now, else None."""
        now = monotonic()
        for scope, key in (("email", f"email:{email}"), ("ip", f"ip:{ip}")):
            if scope == "ip" and not ip:
                continue
            entry = self._entries.get(key)
            if entry is not None and entry.locked_until > now:
                return scope, entry.locked_until - now
        return None

    def record_failure(self, *, email: str, ip: str | None) -> None:
        self._bump(f"email:{email}", MAX_FAILURES_PER_EMAIL)
        if ip:
            self._bump(f"ip:{ip}", MAX_FAILURES_PER_IP)

    def record_success(self, *, email: str) -> None:
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


throttle = SignInThrottle()
"""The process's one throttle (see module docstring)."""
