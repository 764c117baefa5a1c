"""Per-account rolling figures, in memory: requests, success rate, latency p50/p95, tokens and
cost today and this month, requests and tokens in the last minute, current concurrency.

Fed by the gateway after each request; persisted by a job (`jobs.persist_figures`) as one
row per account and UTC day; loaded back at start so monthly caps survive a restart.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime

_WINDOW_SECONDS = 60.0
_SAMPLES = 256
_ALPHA = 0.1


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class AccountFigures:
    """Rolling figures of one account. Times are POSIX seconds from the (frozen-able) clock."""

    day: date | None = None
    requests_today: int = 0
    successes_today: int = 0
    failures_today: int = 0
    input_tokens_today: int = 0
    output_tokens_today: int = 0
    cost_today_micros: int = 0
    month: tuple[int, int] | None = None
    cost_month_before_today_micros: int = 0
    """Cost of this month's earlier days (from the daily rows), micros."""
    tokens_month_before_today: int = 0
    in_flight: int = 0
    success_ewma: float = 1.0
    """Exponentially weighted success rate of live requests (1.0 = all succeeded)."""
    latency_ewma_ms: float | None = None
    ttfb_ewma_ms: float | None = None
    last_used_at: datetime | None = None
    _latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_SAMPLES))
    _recent_requests: deque[float] = field(default_factory=deque)
    _recent_tokens: deque[tuple[float, int]] = field(default_factory=deque)
    _recent_token_sum: int = 0
    """Sum of the tokens in `_recent_tokens`, kept as they come and go."""

    def roll(self, now: datetime) -> None:
        """Start a new day (and month) when the UTC date has moved on."""
        today = now.date()
        if self.day == today:
            return
        this_month = (today.year, today.month)
        if self.month == this_month and self.day is not None:
            self.cost_month_before_today_micros += self.cost_today_micros
            self.tokens_month_before_today += self.input_tokens_today + self.output_tokens_today
        elif self.month != this_month:
            self.cost_month_before_today_micros = 0
            self.tokens_month_before_today = 0
        self.month = this_month
        self.day = today
        self.requests_today = self.successes_today = self.failures_today = 0
        self.input_tokens_today = self.output_tokens_today = self.cost_today_micros = 0

    def started(self, now: datetime) -> None:
        self.roll(now)
        self.requests_today += 1
        self.last_used_at = now
        at = now.timestamp()
        self._recent_requests.append(at)
        # Trim as we go, so the window stays bounded when nothing reads it (no caps set).
        horizon = at - _WINDOW_SECONDS
        while self._recent_requests[0] <= horizon:
            self._recent_requests.popleft()

    def succeeded(self, now: datetime, *, latency_ms: float | None, ttfb_ms: float | None) -> None:
        self.roll(now)
        self.successes_today += 1
        self.success_ewma = (1 - _ALPHA) * self.success_ewma + _ALPHA
        if latency_ms is not None:
            self._latencies.append(latency_ms)
            self.latency_ewma_ms = (
                latency_ms
                if self.latency_ewma_ms is None
                else ((1 - _ALPHA) * self.latency_ewma_ms + _ALPHA * latency_ms)
            )
        if ttfb_ms is not None:
            self.ttfb_ewma_ms = (
                ttfb_ms
                if self.ttfb_ewma_ms is None
                else ((1 - _ALPHA) * self.ttfb_ewma_ms + _ALPHA * ttfb_ms)
            )

    def failed(self, now: datetime) -> None:
        self.roll(now)
        self.failures_today += 1
        self.success_ewma = (1 - _ALPHA) * self.success_ewma

    def add_usage(
        self, now: datetime, *, input_tokens: int, output_tokens: int, cost_micros: int
    ) -> None:
        self.roll(now)
        self.input_tokens_today += input_tokens
        self.output_tokens_today += output_tokens
        self.cost_today_micros += cost_micros
        at = now.timestamp()
        self._recent_tokens.append((at, input_tokens + output_tokens))
        self._recent_token_sum += input_tokens + output_tokens
        horizon = at - _WINDOW_SECONDS
        while self._recent_tokens[0][0] <= horizon:
            self._recent_token_sum -= self._recent_tokens.popleft()[1]

    def _trim(self, now: datetime) -> None:
        horizon = now.timestamp() - _WINDOW_SECONDS
        while self._recent_requests and self._recent_requests[0] <= horizon:
            self._recent_requests.popleft()
        while self._recent_tokens and self._recent_tokens[0][0] <= horizon:
            self._recent_token_sum -= self._recent_tokens.popleft()[1]

    def requests_last_minute(self, now: datetime) -> int:
        self._trim(now)
        return len(self._recent_requests)

    def tokens_last_minute(self, now: datetime) -> int:
        self._trim(now)
        return self._recent_token_sum

    def cost_month_micros(self, now: datetime) -> int:
        self.roll(now)
        return self.cost_month_before_today_micros + self.cost_today_micros

    @property
    def latency_p50_ms(self) -> float | None:
        return _percentile(list(self._latencies), 0.5)

    @property
    def latency_p95_ms(self) -> float | None:
        return _percentile(list(self._latencies), 0.95)

    @property
    def health(self) -> float:
        """A weight multiplier in [0.05, 1]: a flaky account gets less traffic, never none."""
        return max(0.05, min(1.0, self.success_ewma))

    def load(
        self,
        now: datetime,
        *,
        today: dict[str, int] | None,
        month_before_today_micros: int,
        month_tokens_before_today: int,
    ) -> None:
        """Seed from persisted daily rows (at start-up)."""
        self.roll(now)
        self.cost_month_before_today_micros = month_before_today_micros
        self.tokens_month_before_today = month_tokens_before_today
        if today:
            self.requests_today = today["requests"]
            self.successes_today = today["successes"]
            self.failures_today = today["failures"]
            self.input_tokens_today = today["input_tokens"]
            self.output_tokens_today = today["output_tokens"]
            self.cost_today_micros = today["cost_micros"]

    def summary(self, now: datetime) -> dict[str, object]:
        """The figures an admin reads (JSON-ready)."""
        self.roll(now)
        done = self.successes_today + self.failures_today
        return {
            "requests_today": self.requests_today,
            "successes_today": self.successes_today,
            "failures_today": self.failures_today,
            "success_rate_today": None if done == 0 else round(self.successes_today / done, 4),
            "success_ewma": round(self.success_ewma, 4),
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "ttfb_ewma_ms": None if self.ttfb_ewma_ms is None else round(self.ttfb_ewma_ms, 1),
            "input_tokens_today": self.input_tokens_today,
            "output_tokens_today": self.output_tokens_today,
            "cost_today_micros": self.cost_today_micros,
            "cost_month_micros": self.cost_month_micros(now),
            "tokens_month": self.tokens_month_before_today
            + self.input_tokens_today
            + self.output_tokens_today,
            "requests_last_minute": self.requests_last_minute(now),
            "tokens_last_minute": self.tokens_last_minute(now),
            "in_flight": self.in_flight,
            "last_used_at": None if self.last_used_at is None else self.last_used_at.isoformat(),
        }
