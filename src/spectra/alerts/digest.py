"""Forecast-based alerts, at most every few minutes (never per request): a group whose balance
runway falls below `alert_runway_days`, and the daily or weekly digest of spend vs budget per
group with the month's projection (`alert_digest`), both from `usage.forecasts`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from spectra.alerts.detect import raise_new
from spectra.audit.actor import SYSTEM
from spectra.db.session import Session
from spectra.usage import forecasts
from spectra.workspace.schemas import WorkspaceSettings


async def check_forecasts(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """Raise `runway` for each group below the runway setting (once per group and month) and
    the digest when one is due (once per day or ISO week)."""
    if settings.alert_runway_days is None and settings.alert_digest is None:
        return 0
    report = await forecasts.forecast(session, SYSTEM, window_days=7)
    groups = [i for i in report["items"] if i["subject"] == "group"]
    local = now.astimezone(ZoneInfo(settings.time_zone))
    candidates: list[tuple[str, dict[str, object]]] = []
    if settings.alert_runway_days is not None:
        candidates += _runway(groups, settings, local, report["currency"])
    if settings.alert_digest is not None:
        candidates.append(_digest(groups, settings.alert_digest, local, report["currency"]))
    return await raise_new(session, candidates, settings.time_zone)


def _runway(
    groups: list[dict[str, Any]], settings: WorkspaceSettings, local: datetime, currency: str
) -> list[tuple[str, dict[str, object]]]:
    limit = Decimal(settings.alert_runway_days or 0)
    out: list[tuple[str, dict[str, object]]] = []
    for item in groups:
        days = item["runway_days"]
        if days is None or Decimal(days) >= limit or item["funds_used_per_day_micros"] <= 0:
            continue
        out.append(
            (
                f"runway:{item['subject_id']}:{local:%Y-%m}",
                {
                    "event": "runway",
                    "subject_kind": "group",
                    "subject_id": item["subject_id"],
                    "title": f"Group {item['label']} has about {days} days of balance left",
                    "message": f"{item['summary']} It has {item['balance']} {currency}, using "
                    f"about {item['funds_used_per_day']} {currency} a day; recharge it before "
                    f"{item['runs_out_on']}.",
                    "data": {"runway_days": days, "runs_out_on": item["runs_out_on"]},
                },
            )
        )
    return out


def _digest(
    groups: list[dict[str, Any]], every: str, local: datetime, currency: str
) -> tuple[str, dict[str, object]]:
    period = f"{local:%Y-%m-%d}" if every == "daily" else "{}-W{:02d}".format(*local.isocalendar())
    lines = []
    for item in sorted(groups, key=lambda i: -int(i["month_to_date_micros"])):
        budget = f" of {item['budget']}" if item["budget"] is not None else ""
        over = " (over budget)" if item["over_budget"] else ""
        lines.append(
            f"- {item['label']}: {item['month_to_date']}{budget} {currency} this month, "
            f"projected {item['projected_month_spend']}{over}"
        )
    body = "\n".join(lines) or "No group has spent anything this month."
    return (
        f"digest:{every}:{period}",
        {
            "event": "digest",
            "subject_kind": "workspace",
            "subject_id": period,
            "title": f"Spectra {every} digest: spend vs budget ({period})",
            "message": f"Month-to-date spend per group, with the projection at the last 7 days' "
            f"rate:\n{body}",
            "data": {"groups": [{k: i[k] for k in _DIGEST_KEYS} for i in groups]},
        },
    )


_DIGEST_KEYS = (
    "label",
    "month_to_date",
    "budget",
    "projected_month_spend",
    "over_budget",
    "runway_days",
)
