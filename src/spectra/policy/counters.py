"""Month-to-date spend per group and per member, in memory: what the cap rules read.

Loaded at start-up with one aggregate over this month's usage records (month in the workspace
time zone), then kept current by the gateway's settlements (`add`, called with each request's
cost as it settles). The month rolls over on its own: the first read or write in a new month
starts from zero.

Bound: the counters count settled cost only. A request admitted while its member and group
were below their caps is charged in full, so a cap can be exceeded by at most the cost of the
requests in flight when the counter crossed it (one request per open slot). Refunds and
adjustments do not lower the counters (they are spend controls, not balances); a restart
reloads them from the records.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from .budget_counters import BudgetCounters, month_start

__all__ = ["SpendCounters", "month_start"]


class SpendCounters:
    """Month-to-date spend (micros) by group and by member."""

    def __init__(self, time_zone: str = "UTC") -> None:
        self.time_zone = time_zone
        self.month: datetime | None = None
        self.groups: dict[uuid.UUID, int] = defaultdict(int)
        self.members: dict[uuid.UUID, int] = defaultdict(int)
        self._span: tuple[datetime, str, datetime] | None = None
        """(month, time zone, next month's start) once computed: most calls fall inside it."""
        self.budgets = BudgetCounters(time_zone)
        """Spend per key and per project, and in-flight reservations (budget_counters.py)."""

    def _roll(self, now: datetime) -> None:
        span = self._span
        if (
            span is not None
            and span[0] is self.month
            and span[1] == self.time_zone
            and span[0] <= now < span[2]
        ):
            return
        month = month_start(now, self.time_zone)
        if self.month != month:
            self.month = month
            self.groups.clear()
            self.members.clear()
        if self.month is not None:
            following = month_start(self.month + timedelta(days=32), self.time_zone)
            self._span = (self.month, self.time_zone, following)

    def add(
        self, *, group_id: uuid.UUID | None, user_id: uuid.UUID | None, micros: int, at: datetime
    ) -> None:
        """Count a settled cost."""
        if micros <= 0:
            return
        self._roll(at)
        if group_id is not None:
            self.groups[group_id] += micros
        if user_id is not None:
            self.members[user_id] += micros

    def spent(self, *, group_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> tuple[int, int]:
        """(group, member) month-to-date spend."""
        self._roll(now)
        return self.groups.get(group_id, 0), self.members.get(user_id, 0)

    def replace(
        self, groups: dict[uuid.UUID, int], members: dict[uuid.UUID, int], month: datetime
    ) -> None:
        self.month = month
        self.groups = defaultdict(int, groups)
        self.members = defaultdict(int, members)
