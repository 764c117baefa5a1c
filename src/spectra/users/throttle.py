"""Sign-in rate limiting per email and per client IP: in process by default, in Redis when
several processes serve (`SPECTRA_REDIS_URL`), behind one interface (`SignInThrottle`).

Why not a table: a failed sign-in rolls its unit of work back, so a counter in the database
would vanish with it (or need a second, committed transaction outside the service's unit of
work). In the embedded default one process serves a database (the serve lease), so one
in-process counter sees every attempt; a restart clears lockouts, which is acceptable. With
Redis, every process counts into the same keys, so N processes do not allow N times the tries.

Rule (failures within 15 minutes):
- 5 for one email from one client IP lock that pair for 15 minutes: an attacker elsewhere
  cannot lock the real user out;
- 20 from one IP (any emails) lock that IP for 15 minutes;
- 50 for one email across all IPs (the backstop against a spread-out guesser) lock the email
  for 5 minutes: shorter, so a botnet keeps the owner out for minutes, never for good.
A success clears the email's counts. Each new lock is logged (WARNING) and remembered for 7
days; the user's next successful sign-in writes it to the audit log (`auth.sign_in_locked`),
so the owner learns of it. The in-process table is bounded (oldest entries go). If Redis cannot
answer, each process falls back to its own in-process counts (weaker by the number of
processes, never unlimited, and sign-in keeps working).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Protocol

from spectra.db.redis import REDIS_DOWN, SharedRedis, lua_script
from spectra.kit.clock import monotonic, utc_now
from spectra.kit.ids import uuid7

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
ACCOUNT_LOCK_SECONDS = 5 * 60
MAX_FAILURES_PER_EMAIL_AND_IP = 5
MAX_FAILURES_PER_IP = 20
MAX_FAILURES_PER_ACCOUNT = 50
MAX_ENTRIES = 100_000
NOTICE_SECONDS = 7 * 24 * 3600
MAX_NOTICES = 20

SCOPE_EMAIL_IP = "email_ip"
SCOPE_IP = "ip"
SCOPE_ACCOUNT = "account"
_RULES: dict[str, tuple[int, int]] = {
    SCOPE_EMAIL_IP: (MAX_FAILURES_PER_EMAIL_AND_IP, LOCK_SECONDS),
    SCOPE_IP: (MAX_FAILURES_PER_IP, LOCK_SECONDS),
    SCOPE_ACCOUNT: (MAX_FAILURES_PER_ACCOUNT, ACCOUNT_LOCK_SECONDS),
}
"""scope -> (failures within the window that lock, lock seconds)."""


@dataclass(frozen=True, slots=True)
class Lockout:
    """A lock that failed sign-ins set on an email (kept to tell its user)."""

    scope: str
    ip: str | None
    at: str
    """ISO 8601 UTC."""


class SignInThrottle(Protocol):
    async def locked_for(self, *, email: str, ip: str | None) -> tuple[str, float] | None:
        """(scope, seconds left) when the email, the IP or the pair is locked now, else None."""
        ...

    async def record_failure(self, *, email: str, ip: str | None) -> list[str]:
        """Count a failure; returns the scopes it newly locked."""
        ...

    async def record_success(self, *, email: str, ip: str | None) -> None: ...

    async def take_lockouts(self, *, email: str) -> list[Lockout]:
        """The locks set on `email` since its last successful sign-in (forgotten after this)."""
        ...


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class InProcessSignInThrottle:
    """The embedded default: one process's counts, in memory."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._notices: OrderedDict[str, list[Lockout]] = OrderedDict()

    async def locked_for(self, *, email: str, ip: str | None) -> tuple[str, float] | None:
        now = monotonic()
        for scope, key in _scopes(email, ip):
            entry = self._entries.get(key)
            if entry is not None and entry.locked_until > now:
                return scope, entry.locked_until - now
        return None

    async def record_failure(self, *, email: str, ip: str | None) -> list[str]:
        locked = [scope for scope, key in _scopes(email, ip) if self._bump(key, *_RULES[scope])]
        await self.remember(email=email, ip=ip, scopes=locked)
        return locked

    async def record_success(self, *, email: str, ip: str | None) -> None:
        for scope, key in _scopes(email, ip):
            if scope != SCOPE_IP:
                self._entries.pop(key, None)

    async def take_lockouts(self, *, email: str) -> list[Lockout]:
        return self._notices.pop(email, [])

    async def remember(self, *, email: str, ip: str | None, scopes: list[str]) -> None:
        for scope in scopes:
            _warn(email, ip, scope)
            if scope == SCOPE_IP:
                continue  # an address, not an account: nobody to tell
            notices = self._notices.pop(email, [])
            notices.append(Lockout(scope=scope, ip=ip, at=utc_now().isoformat()))
            self._notices[email] = notices[-MAX_NOTICES:]
            while len(self._notices) > MAX_ENTRIES:
                self._notices.popitem(last=False)

    def reset(self) -> None:
        self._entries.clear()
        self._notices.clear()

    def _bump(self, key: str, limit: int, lock_seconds: int) -> bool:
        now = monotonic()
        entry = self._entries.pop(key, None) or _Entry()
        entry.failures = [t for t in entry.failures if now - t < WINDOW_SECONDS]
        entry.failures.append(now)
        locked = len(entry.failures) >= limit
        if locked:
            entry.locked_until = now + lock_seconds
            entry.failures.clear()
        self._entries[key] = entry
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return locked


_FAIL = lua_script("spectra.users", "throttle_fail")


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

    async def record_failure(self, *, email: str, ip: str | None) -> list[str]:
        locked: list[str] = []
        try:
            for scope, key in _scopes(email, ip):
                limit, lock_seconds = _RULES[scope]
                if await self._fail(
                    keys=[self._key("fail", key), self._key("lock", key)],
                    args=[limit, WINDOW_SECONDS, lock_seconds, str(uuid7())],
                ):
                    locked.append(scope)
        except REDIS_DOWN:
            return await self.fallback.record_failure(email=email, ip=ip)
        await self._remember(email=email, ip=ip, scopes=locked)
        return locked

    async def record_success(self, *, email: str, ip: str | None) -> None:
        with contextlib.suppress(*REDIS_DOWN):
            await self.redis.client.delete(
                *(self._key("fail", key) for scope, key in _scopes(email, ip) if scope != SCOPE_IP)
            )
        await self.fallback.record_success(email=email, ip=ip)

    async def take_lockouts(self, *, email: str) -> list[Lockout]:
        key = self._key("notice", email)
        try:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.lrange(key, 0, -1)
                pipe.delete(key)
                raw, _ = await pipe.execute()
        except REDIS_DOWN:
            raw = []
        shared = [Lockout(**json.loads(item)) for item in raw]
        return shared + await self.fallback.take_lockouts(email=email)

    async def _remember(self, *, email: str, ip: str | None, scopes: list[str]) -> None:
        told = [scope for scope in scopes if scope != SCOPE_IP]
        for scope in scopes:
            _warn(email, ip, scope)
        if not told:
            return
        key = self._key("notice", email)
        items = [
            json.dumps(asdict(Lockout(scope=s, ip=ip, at=utc_now().isoformat()))) for s in told
        ]
        try:
            async with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, *items)
                pipe.ltrim(key, -MAX_NOTICES, -1)
                pipe.expire(key, NOTICE_SECONDS)
                await pipe.execute()
        except REDIS_DOWN:
            await self.fallback.remember(email=email, ip=ip, scopes=told)


def _warn(email: str, ip: str | None, scope: str) -> None:
    limit, seconds = _RULES[scope]
    log.warning(
        "sign-in locked after %d failures (%s) for %d s",
        limit,
        scope,
        seconds,
        extra={"email": email, "client_ip": ip, "scope": scope},
    )


def _scopes(email: str, ip: str | None) -> list[tuple[str, str]]:
    scopes = [(SCOPE_EMAIL_IP, f"email_ip:{email}|{ip or '-'}")]
    if ip:
        scopes.append((SCOPE_IP, f"ip:{ip}"))
    scopes.append((SCOPE_ACCOUNT, f"email:{email}"))
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
