"""Rate-limit counters for admission: `Limit` (one scope's rules), `Lease` (what one request
holds), the `Limiter` protocol and `RateLimiter`, the in-process sliding windows. The shared
counterpart across processes is `limits_redis.RedisRateLimiter`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from spectra.kit.clock import monotonic

from .errors import ConcurrencyLimitExceededError, RateLimitExceededError

WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str
    """`key`, `user` or `package`."""
    subject: str
    """Id of the key, user or package assignment."""
    label: str
    """For the refusal sentence: "This key", "You", "Package 'Starter'"."""
    rpm: int | None = None
    tpm: int | None = None
    concurrency: int | None = None


@dataclass(slots=True)
class _Counter:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0
    in_flight: int = 0

    def prune(self, now: float) -> None:
        edge = now - WINDOW_SECONDS
        while self.requests and self.requests[0] <= edge:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= edge:
            self.token_sum -= self.tokens.popleft()[1]


class Limiter(Protocol):
    """Rate-limit counters: `RateLimiter` in process, `RedisRateLimiter` shared."""

    async def acquire(self, limits: Iterable[Limit], tokens: int) -> Lease: ...

    def finish(self, lease: Lease, actual_tokens: int | None) -> None: ...


@dataclass(slots=True)
class Lease:
    """Taken on admission; `finish` corrects the token count and frees the concurrency slots."""

    limiter: Limiter
    keys: tuple[tuple[str, str], ...]
    tokens: int
    done: bool = False
    id: str = ""

    def finish(self, actual_tokens: int | None = None) -> None:
        if self.done:
            return
        self.done = True
        self.limiter.finish(self, actual_tokens)


class RateLimiter:
    """Sliding one-minute windows of requests and tokens, and open-request counts, per scope.

    In memory and per process (with several processes, `RedisRateLimiter` shares them). Tokens are counted
    at admission from the estimate and corrected to the real count when the request settles.
    """

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], _Counter] = {}

    async def acquire(self, limits: Iterable[Limit], tokens: int) -> Lease:
        """Count one request of `tokens` against every limit, or raise the first one exceeded."""
        now = monotonic()
        checked: list[tuple[Limit, _Counter]] = []
        for limit in limits:
            counter = self._counters.setdefault((limit.scope, limit.subject), _Counter())
            counter.prune(now)
            if limit.concurrency is not None and counter.in_flight >= limit.concurrency:
                raise ConcurrencyLimitExceededError(
                    f"{limit.label} may have {limit.concurrency} requests open at once; "
                    "wait for one to finish and try again.",
                    scope=limit.scope,
                    retry_after=1,
                )
            if limit.rpm is not None and len(counter.requests) >= limit.rpm:
                wait = _wait(counter.requests[0], now)
                raise RateLimitExceededError(
                    f"{limit.label} may send {limit.rpm} requests per minute; "
                    f"wait {wait} s and try again.",
                    scope=limit.scope,
                    retry_after=wait,
                )
            if limit.tpm is not None and counter.token_sum + tokens > limit.tpm and counter.tokens:
                wait = _wait(counter.tokens[0][0], now)
                raise RateLimitExceededError(
                    f"{limit.label} may use {limit.tpm} tokens per minute; "
                    f"wait {wait} s and try again.",
                    scope=limit.scope,
                    retry_after=wait,
                )
            checked.append((limit, counter))
        for _limit, counter in checked:
            counter.requests.append(now)
            counter.tokens.append((now, tokens))
            counter.token_sum += tokens
            counter.in_flight += 1
        return Lease(self, tuple((lim.scope, lim.subject) for lim, _ in checked), tokens)

    def finish(self, lease: Lease, actual_tokens: int | None) -> None:
        now = monotonic()
        for key in lease.keys:
            counter = self._counters.get(key)
            if counter is None:
                continue
            counter.in_flight = max(0, counter.in_flight - 1)
            if actual_tokens is not None and actual_tokens != lease.tokens:
                delta = actual_tokens - lease.tokens
                counter.tokens.append((now, delta))
                counter.token_sum += delta


def _wait(oldest: float, now: float) -> int:
    return max(1, math.ceil(oldest + WINDOW_SECONDS - now))
