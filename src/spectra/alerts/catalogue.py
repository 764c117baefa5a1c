"""The alert event catalogue: every event's name, what it is about and how it reads. Pure.

Budget thresholds share one event name per budget kind (`group_cap`, `member_cap`,
`package_allowance`, and `key_budget` / `project_budget` when those budgets exist); each fires
once per period when spend first reaches a threshold percent (dedupe key: event, subject,
period start, percent).
"""

from __future__ import annotations

from dataclasses import dataclass

BUDGET_EVENTS = ("group_cap", "member_cap", "package_allowance", "key_budget", "project_budget")
"""Budget thresholds, by subject kind. Group and member caps and package allowances are checked
on each settlement batch (detect.check_budgets); key and project budgets by the detection sweep
(budget_detect), per period."""

DEFAULT_THRESHOLDS = (50, 80, 100)


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    description: str
    is_budget: bool = False


EVENTS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec("group_cap", "A group's monthly spend reached a threshold of its cap.", True),
        EventSpec("member_cap", "A member's monthly spend reached a threshold of their cap.", True),
        EventSpec(
            "package_allowance", "A package allowance reached a threshold of its period.", True
        ),
        EventSpec("key_budget", "A key's budget reached a threshold.", True),
        EventSpec("project_budget", "A project's budget reached a threshold.", True),
        EventSpec("wallet_low", "A wallet fell below its low-balance threshold."),
        EventSpec("runway", "A group's balance lasts fewer than alert_runway_days days."),
        EventSpec("digest", "The daily or weekly digest of spend vs budget per group."),
        EventSpec("approvals_waiting", "Approvals or member requests wait longer than N hours."),
        EventSpec("key_expiring", "A member key expires within N days."),
        EventSpec("pool_degraded", "An upstream account needs attention or the pool is degraded."),
        EventSpec("model_not_served", "Requests were refused: no pool account serves the model."),
        EventSpec("model_unpriced", "Requests were refused: the requested model has no price."),
        EventSpec("settlement_backlog", "Settlements wait to be written (the gateway refuses)."),
        EventSpec("audit_broken", "The audit chain failed verification."),
        EventSpec("rollout_promoted", "The rollout autopilot promoted a wave."),
        EventSpec("rollout_paused", "The rollout autopilot paused a rollout (a gate breached)."),
        EventSpec("rollout_rolled_back", "The rollout autopilot rolled a wave back."),
        EventSpec("rollout_approval_needed", "A rollout wave waits for a person's approval."),
        EventSpec("test", "A test message sent by an admin."),
    )
}


def threshold_levels(spent: int, limit: int, thresholds: tuple[int, ...]) -> list[int]:
    """The thresholds (percent) that `spent` of `limit` has reached, ascending. Integer math."""
    if limit <= 0:
        return [t for t in sorted(thresholds) if spent > 0 or t == 0]
    return [t for t in sorted(thresholds) if spent * 100 >= limit * t]


def budget_dedupe_key(event: str, subject_id: str, period: str, percent: int) -> str:
    return f"{event}:{subject_id}:{period}:{percent}"
