"""Where each key and project budget stands now: spend against budget and the percent used,
from the in-memory counters the gateway already keeps (no work per request). For the alerts
work (thresholds crossed: 50/80/100 %) and for the console.

    states = budget_states(current_cache(), now=utc_now())
    [s for s in states if s.percent >= 80]
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from .budget_counters import BudgetCounters
from .snapshot import PolicyCache


@dataclass(frozen=True, slots=True)
class BudgetState:
    kind: str
    """`key` or `project`."""
    subject_id: uuid.UUID
    label: str
    """The project's name, or the key's id."""
    period: str
    """`day`, `week` or `month`."""
    period_start: datetime
    budget_micros: int
    """The budget plus approved, unexpired extensions, micros."""
    spent_micros: int
    mode: str

    @property
    def percent(self) -> int:
        """Whole percent of the budget spent (floor; 100 at the budget)."""
        return self.spent_micros * 100 // self.budget_micros

    def crossed(self, thresholds: tuple[int, ...] = (50, 80, 100)) -> tuple[int, ...]:
        """The thresholds this budget has reached this period."""
        return tuple(t for t in thresholds if self.percent >= t)


def budget_states(cache: PolicyCache, *, now: datetime) -> list[BudgetState]:
    """Every key and project budget with its spend this period (this process's counters: with
    Redis, the shared totals as of its last budget check plus its own settlements since)."""
    terms = cache.snapshot.budgets
    counters: BudgetCounters = cache.spend.budgets
    starts = counters.starts(now)
    out: list[BudgetState] = []
    for key_id, key in terms.keys.items():
        spent = counters.key_spent(key_id, now)
        extra = terms.extension_micros(key_id, now) if key.mode == "approval" else 0
        for period, micros in key.amounts():
            out.append(
                BudgetState(
                    "key",
                    key_id,
                    str(key_id),
                    period,
                    starts[period],
                    micros + extra,
                    spent[period],
                    key.mode,
                )
            )
    for project_id, project in terms.projects.items():
        if project.monthly_budget_micros is None:
            continue
        extra = terms.extension_micros(project_id, now) if project.mode == "approval" else 0
        out.append(
            BudgetState(
                "project",
                project_id,
                project.name,
                "month",
                starts["month"],
                project.monthly_budget_micros + extra,
                counters.project_spent(project_id, now),
                project.mode,
            )
        )
    return out
