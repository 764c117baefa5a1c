"""Spend per key (day, week, month) and per project (month), in memory, beside the cap counters
(counters.py), plus what requests in flight have reserved against those budgets.

Loaded at start-up from the usage records, then kept current by the gateway's settlements.
Admission reserves a request's estimate against its key's and project's budgets before the
hold (`reserve`) and settlement turns the reservation into spend (`settle`), so concurrent
requests cannot pass a hard budget together: a budget is exceeded by at most the cost of the
admitted requests above their estimates (the same excess the hold's overspend bound allows).

This class is the single-process store (SQLite, or PostgreSQL without Redis): its
`reserve_within` checks and reserves with no await in between, so coroutines see each other.
With Redis configured, `budget_redis.RedisBudgetCounters` keeps the same counters in Redis for
every process (docs/budgets.md).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("day", "week", "month")


def month_start(at: datetime, time_zone: str) -> datetime:
    """The first instant of `at`'s month in `time_zone`, as an aware datetime."""
    local = at.astimezone(ZoneInfo(time_zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def period_start(period: str, at: datetime, time_zone: str) -> datetime:
    """The first instant of `at`'s day, week (Monday) or month in `time_zone`."""
    if period == "month":
        return month_start(at, time_zone)
    local = at.astimezone(ZoneInfo(time_zone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day


def period_end(period: str, start: datetime, time_zone: str) -> datetime:
    if period == "month":
        return month_start(start + timedelta(days=32), time_zone)
    days = 7 if period == "week" else 1
    return period_start(period, start + timedelta(days=days, hours=12), time_zone)


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """One hard budget a request's estimate must fit: `kind` is `key` or `project`."""

    kind: str
    subject_id: uuid.UUID
    period: str
    allowed_micros: int


@dataclass(frozen=True, slots=True)
class BudgetRefusal:
    """Which check refused (index into the checks) and what it saw."""

    index: int
    spent_micros: int
    pending_micros: int


class BudgetCounters:
    """Spend (micros) per key and period and per project this month; reservations in flight."""

    def __init__(self, time_zone: str = "UTC") -> None:
        self.time_zone = time_zone
        self.keys: dict[str, dict[uuid.UUID, int]] = {p: defaultdict(int) for p in PERIODS}
        self.projects: dict[uuid.UUID, int] = defaultdict(int)
        self.reserved: dict[uuid.UUID, int] = defaultdict(int)
        """In-flight estimates by key id and by project id."""
        self._spans: dict[str, tuple[datetime, datetime]] = {}

    def _roll(self, now: datetime) -> None:
        for period in PERIODS:
            span = self._spans.get(period)
            if span is not None and span[0] <= now < span[1]:
                continue
            start = period_start(period, now, self.time_zone)
            if span is None or span[0] != start:
                self.keys[period].clear()
                if period == "month":
                    self.projects.clear()
            self._spans[period] = (start, period_end(period, start, self.time_zone))

    def starts(self, now: datetime) -> dict[str, datetime]:
        self._roll(now)
        return {p: self._spans[p][0] for p in PERIODS}

    def key_spent(self, key_id: uuid.UUID, now: datetime) -> dict[str, int]:
        self._roll(now)
        return {p: self.keys[p].get(key_id, 0) for p in PERIODS}

    def project_spent(self, project_id: uuid.UUID, now: datetime) -> int:
        self._roll(now)
        return self.projects.get(project_id, 0)

    def pending(self, subject: uuid.UUID | None) -> int:
        return 0 if subject is None else self.reserved.get(subject, 0)

    def reserve(self, subjects: tuple[uuid.UUID, ...], micros: int) -> None:
        for subject in subjects:
            self.reserved[subject] += micros

    def unreserve(self, subjects: tuple[uuid.UUID, ...], micros: int) -> None:
        for subject in subjects:
            left = self.reserved.get(subject, 0) - micros
            if left > 0:
                self.reserved[subject] = left
            else:
                self.reserved.pop(subject, None)

    def add(
        self, *, key_id: uuid.UUID | None, project_id: uuid.UUID | None, micros: int, at: datetime
    ) -> None:
        """Count a settled cost."""
        if micros <= 0:
            return
        self._roll(at)
        if key_id is not None:
            for period in PERIODS:
                self.keys[period][key_id] += micros
        if project_id is not None:
            self.projects[project_id] += micros

    def replace(
        self,
        keys: dict[str, dict[uuid.UUID, int]],
        projects: dict[uuid.UUID, int],
        now: datetime,
    ) -> None:
        self._spans.clear()
        self._roll(now)
        self.keys = {p: defaultdict(int, keys.get(p, {})) for p in PERIODS}
        self.projects = defaultdict(int, projects)

    def spent_for(self, check: BudgetCheck, now: datetime) -> int:
        if check.kind == "key":
            return self.key_spent(check.subject_id, now)[check.period]
        return self.project_spent(check.subject_id, now)

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
        """Reserve `micros` against `subjects` when every check has room for it on top of what
        is spent and in flight (atomic check-and-add); else the first check that refuses."""
        del request_id, ttl_seconds
        for index, check in enumerate(checks):
            spent, pending = self.spent_for(check, now), self.pending(check.subject_id)
            if spent + pending + micros > check.allowed_micros:
                return BudgetRefusal(index, spent, pending)
        self.reserve(subjects, micros)
        return None

    async def release(self, request_id: str, subjects: tuple[uuid.UUID, ...], micros: int) -> None:
        """Drop a reservation (the request was refused or ended unbilled)."""
        del request_id
        self.unreserve(subjects, micros)

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
        """Turn a reservation of `reserved` into spend of `micros` (the settled cost)."""
        del request_id
        self.unreserve(subjects, reserved)
        self.add(key_id=key_id, project_id=project_id, micros=micros, at=at)

    async def flush(self) -> None:
        """Wait for queued writes (none here; Redis queues its settlements)."""
