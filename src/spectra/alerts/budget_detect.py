"""Threshold alerts for key budgets and project budgets (budgets domain), from the usage records
of the running period: one query per period for keys and one for projects, run by the
detection sweep (never per request). Like the cap thresholds, each percent fires once per
subject and period (the dedupe key carries the period start)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select

from spectra.alerts.catalogue import budget_dedupe_key, threshold_levels
from spectra.alerts.detect import day_label, money_label
from spectra.budgets.models import KeyBudget, Project
from spectra.db.session import Session
from spectra.keys.models import MemberKey
from spectra.policy.budget_counters import PERIODS, period_end, period_start
from spectra.usage.models import UsageRecord
from spectra.workspace.schemas import WorkspaceSettings

Candidate = tuple[str, dict[str, object]]

_LIMIT_OF = {
    "day": KeyBudget.day_micros,
    "week": KeyBudget.week_micros,
    "month": KeyBudget.month_micros,
}


async def _spend_by(
    session: Session, column: object, ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(column, func.coalesce(func.sum(UsageRecord.cost_micros), 0))  # type: ignore[call-overload]
        .where(column.in_(ids), UsageRecord.created_at >= since)  # type: ignore[attr-defined]
        .group_by(column)
    )
    return {subject: int(total) for subject, total in rows.all()}


async def key_budget_candidates(
    session: Session, settings: WorkspaceSettings, now: datetime
) -> list[Candidate]:
    """Every key budget period whose spend reached a threshold of its limit."""
    tz = settings.time_zone
    out: list[Candidate] = []
    for period in PERIODS:
        limit_col = _LIMIT_OF[period]
        rows = (
            await session.execute(
                select(
                    KeyBudget.key_id, limit_col, MemberKey.user_id, MemberKey.name, MemberKey.prefix
                )
                .join(MemberKey, MemberKey.id == KeyBudget.key_id)
                .where(limit_col.is_not(None), limit_col > 0)
            )
        ).all()
        if not rows:
            continue
        since = period_start(period, now, tz)
        resets = day_label(period_end(period, since, tz), tz)
        spent = await _spend_by(session, UsageRecord.key_id, [r[0] for r in rows], since)
        for key_id, limit_or_none, user_id, key_name, prefix in rows:
            name, limit = key_name or prefix, int(limit_or_none or 0)
            used = spent.get(key_id, 0)
            for p in threshold_levels(used, limit, settings.alert_threshold_list):
                out.append(
                    (
                        budget_dedupe_key(
                            "key_budget", f"{key_id}:{period}", since.date().isoformat(), p
                        ),
                        {
                            "event": "key_budget",
                            "subject_kind": "key_budget",
                            "subject_id": str(key_id),
                            "threshold_percent": p,
                            "member_id": user_id,
                            "title": f"Key {name} reached {p}% of its {period} budget",
                            "message": f"{p}% of the {period} budget of your key {name} is used "
                            f"({money_label(used, settings)} of {money_label(limit, settings)}), "
                            f"it resets {resets}.",
                            "data": {
                                "spent_micros": used,
                                "budget_micros": limit,
                                "period": period,
                                "period_start": since.isoformat(),
                            },
                        },
                    )
                )
    return out


async def project_budget_candidates(
    session: Session, settings: WorkspaceSettings, now: datetime
) -> list[Candidate]:
    """Every active project whose spend this month reached a threshold of its budget."""
    tz = settings.time_zone
    rows = (
        await session.execute(
            select(Project.id, Project.name, Project.monthly_budget_micros).where(
                Project.monthly_budget_micros.is_not(None),
                Project.monthly_budget_micros > 0,
                Project.status == "active",
            )
        )
    ).all()
    if not rows:
        return []
    since = period_start("month", now, tz)
    resets = day_label(period_end("month", since, tz), tz)
    spent = await _spend_by(session, UsageRecord.project_id, [r[0] for r in rows], since)
    out: list[Candidate] = []
    for project_id, name, budget_or_none in rows:
        budget = int(budget_or_none or 0)
        used = spent.get(project_id, 0)
        for p in threshold_levels(used, budget, settings.alert_threshold_list):
            out.append(
                (
                    budget_dedupe_key(
                        "project_budget", str(project_id), since.date().isoformat(), p
                    ),
                    {
                        "event": "project_budget",
                        "subject_kind": "project_budget",
                        "subject_id": str(project_id),
                        "threshold_percent": p,
                        "title": f"Project {name} reached {p}% of its monthly budget",
                        "message": f"{p}% of the {name} project's monthly budget is used "
                        f"({money_label(used, settings)} of {money_label(budget, settings)}), "
                        f"it resets {resets}.",
                        "data": {
                            "spent_micros": used,
                            "budget_micros": budget,
                            "period": since.date().isoformat(),
                        },
                    },
                )
            )
    return out
