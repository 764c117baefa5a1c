"""How a rollout, its cohorts and a group's rules read as JSON (pure; no session)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from spectra.kit.money import format_amount

from .models import Rollout, RolloutCohort
from .repository import GroupRules


@dataclass(frozen=True, slots=True)
class RolloutDetail:
    rollout: Rollout
    cohorts: list[RolloutCohort]


def rules_json(rules: GroupRules) -> dict[str, Any]:
    data = asdict(rules)
    for name in ("allowed_models", "denied_models", "allowed_clients"):
        data[name] = list(data[name])
    return data


def rules_from(data: dict[str, Any]) -> GroupRules:
    values = dict(data)
    for name in ("allowed_models", "denied_models", "allowed_clients"):
        values[name] = tuple(values.get(name) or ())
    return GroupRules(**values)


def cohort_view(cohort: RolloutCohort) -> dict[str, Any]:
    def money(name: str, micros: int | None) -> dict[str, Any]:
        return {name: None if micros is None else format_amount(micros), f"{name}_micros": micros}

    return {
        "id": str(cohort.id),
        "position": cohort.position,
        "name": cohort.name,
        "user_ids": list(cohort.user_ids),
        "group_ids": list(cohort.group_ids),
        "everyone": cohort.everyone,
        "percent": None if cohort.percent_bp is None else f"{cohort.percent_bp / 100:.2f}",
        "exclude_user_ids": list(cohort.exclude_user_ids or ()),
        "exclude_group_ids": list(cohort.exclude_group_ids or ()),
        "models": list(cohort.models),
        "package": cohort.package,
        **money("monthly_cap", cohort.monthly_cap_micros),
        **money("member_monthly_cap", cohort.member_monthly_cap_micros),
        "status": cohort.status,
        "promoted_at": cohort.promoted_at.isoformat() if cohort.promoted_at else None,
        "rolled_back_at": cohort.rolled_back_at.isoformat() if cohort.rolled_back_at else None,
    }


def rollout_view(rollout: Rollout) -> dict[str, Any]:
    def pct(bp: int | None) -> str | None:
        return None if bp is None else f"{bp / 100:.2f}"

    return {
        "id": str(rollout.id),
        "name": rollout.name,
        "goal": rollout.goal,
        "status": rollout.status,
        "min_days": rollout.min_days,
        "max_error_rate": pct(rollout.max_error_rate_bp),
        "max_refusal_rate": pct(rollout.max_refusal_rate_bp),
        "holdout": pct(rollout.holdout_bp or 0),
        "autopilot": bool(rollout.autopilot),
        "autopilot_settings": dict(rollout.autopilot_settings or {}),
        "created_at": rollout.created_at.isoformat(),
        "created_by": rollout.created_by,
        "owner_id": str(rollout.owner_id) if rollout.owner_id else None,
    }


def detail_view(detail: RolloutDetail) -> dict[str, Any]:
    return {**rollout_view(detail.rollout), "cohorts": [cohort_view(c) for c in detail.cohorts]}
