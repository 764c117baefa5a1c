"""Chart specs for Chart.js, built from the usage reports over rollups (never raw records).

A spec is plain JSON: {"type", "labels", "datasets": [{"label", "data"}], "stacked", "yTitle"};
the page embeds it with `json_script` and static/console.js draws it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from spectra.audit.actor import Actor
from spectra.console.i18n import N_, gettext
from spectra.db.session import AnySession
from spectra.kit.money import to_decimal
from spectra.usage import reports

MEASURES = {
    "cost": ("cost_micros", N_("Spend")),
    "tokens": ("tokens", N_("Tokens")),
    "requests": ("requests", N_("Requests")),
    "errors": ("errors", N_("Errors and refusals")),
}


def _buckets(since: datetime, until: datetime, period: str) -> list[datetime]:
    step = timedelta(days=1) if period == "day" else timedelta(hours=1)
    out: list[datetime] = []
    at = since
    while at < until and len(out) < 2000:
        out.append(at)
        at += step
    return out


def _value(item: dict[str, Any], measure: str) -> float | int:
    if measure == "cost":
        return float(to_decimal(int(item["cost_micros"])))
    if measure == "tokens":
        return int(item["input_tokens"]) + int(item["output_tokens"])
    if measure == "errors":
        return int(item["errors"]) + int(item["partial"]) + int(item["refused"])
    return int(item["requests"])


async def series_chart(
    session: AnySession,
    actor: Actor,
    *,
    since: datetime,
    until: datetime,
    dimension: str = "all",
    top: int = 6,
    measure: str = "cost",
    value: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """Spend (or tokens, requests, errors) per day over [since, until): one stacked series per
    top value of `dimension` (group, model, client, user), or one series for `all`/`value`."""
    period = "day"
    buckets = _buckets(since, until, period)
    labels = [b.strftime("%m-%d") for b in buckets]
    series: list[tuple[str, str | None, str]] = []
    if dimension == "all":
        series.append(("all", None, "Workspace" if group is None else group))
    elif value is not None:
        series.append((dimension, value, value))
    else:
        report = await reports.usage_report(
            session, actor, by=dimension, since=since, until=until, limit=top, group=group
        )
        for row in report.rows:
            series.append((dimension, row.key, row.label))
    datasets = []
    for dim, val, label in series:
        items = await reports.timeseries(
            session,
            actor,
            period=period,
            since=since,
            until=until,
            dimension=dim,
            value=val,
            group=group,
        )
        by_bucket = {item["bucket_start"]: _value(item, measure) for item in items}
        datasets.append({"label": label, "data": [by_bucket.get(b, 0) for b in buckets]})
    return {
        "type": "bar",
        "labels": labels,
        "datasets": datasets,
        "stacked": True,
        "yTitle": gettext(MEASURES.get(measure, MEASURES["cost"])[1]),
    }


def as_area(spec: dict[str, Any]) -> dict[str, Any]:
    """A stacked bar spec drawn as a stacked area: lines filled down to the series below."""
    for i, dataset in enumerate(spec["datasets"]):
        dataset.update(fill="origin" if i == 0 else "-1", pointRadius=0, tension=0.25)
    return {**spec, "type": "line"}


async def top_bars(
    session: AnySession,
    actor: Actor,
    *,
    by: str,
    since: datetime,
    until: datetime,
    top: int = 5,
) -> dict[str, Any]:
    """The `top` members (models, ...) by spend over [since, until), as horizontal bars."""
    report = await reports.usage_report(session, actor, by=by, since=since, until=until, limit=top)
    label = {"user": "Spend by member", "model": "Spend by model"}.get(by, "Spend")
    return {
        "type": "bar",
        "indexAxis": "y",
        "labels": [row.label for row in report.rows],
        "datasets": [
            {
                "label": label,
                "data": [
                    float(to_decimal(int(row.measures["cost_micros"]))) for row in report.rows
                ],
            }
        ],
        "legend": False,
    }


async def budget_burn(
    session: AnySession,
    actor: Actor,
    *,
    month_start: datetime,
    month_end: datetime,
    today: datetime,
    budget_micros: int | None,
) -> dict[str, Any]:
    """This month by day: the budget left (the groups' caps less the spend so far, a burn-down;
    the spend so far when no group has a cap), and the forecast to the month's end at the last
    seven days' burn rate, dashed."""
    days = _buckets(month_start, month_end, "day")
    items = await reports.timeseries(
        session, actor, period="day", since=month_start, until=today + timedelta(days=1)
    )
    by_day = {item["bucket_start"]: int(item["cost_micros"]) for item in items}
    week = await reports.timeseries(
        session, actor, period="day", since=today - timedelta(days=6), until=today + timedelta(1)
    )
    rate = sum(int(item["cost_micros"]) for item in week) / 7
    actual: list[float | None] = []
    forecast: list[float | None] = []
    spent = 0
    for day in days:
        if day <= today:
            spent += by_day.get(day, 0)
            actual.append(_left(budget_micros, spent))
            forecast.append(_left(budget_micros, spent) if day == today else None)
        else:
            projected = spent + rate * ((day - today).days)
            actual.append(None)
            forecast.append(_left(budget_micros, round(projected)))
    name = gettext("Budget left") if budget_micros else gettext("Spent this month")
    ahead = len([d for d in days if d > today])
    return {
        "spent_micros": spent,
        "projected_micros": spent + round(rate * ahead),
        "type": "line",
        "labels": [d.strftime("%b %d") for d in days],
        "datasets": [
            {"label": name, "data": actual, "fill": bool(budget_micros), "pointRadius": 0},
            {"label": "Forecast", "data": forecast, "borderDash": [6, 4], "pointRadius": 0},
        ],
        "stacked": False,
        "yTitle": name,
    }


def _left(budget_micros: int | None, spent_micros: int) -> float:
    value = spent_micros if not budget_micros else budget_micros - spent_micros
    return float(to_decimal(value))


async def account_sparkline(
    session: AnySession, actor: Actor, *, account_id: str, since: datetime, until: datetime
) -> dict[str, Any]:
    """One pool account's last hours: requests and errors per hour, drawn without axes."""
    hours = _buckets(since, until, "hour")
    items = await reports.timeseries(
        session,
        actor,
        period="hour",
        since=since,
        until=until,
        dimension="account",
        value=account_id,
    )
    by_hour = {item["bucket_start"]: item for item in items}
    requests = [int(by_hour[h]["requests"]) if h in by_hour else 0 for h in hours]
    errors = [_value(by_hour[h], "errors") if h in by_hour else 0 for h in hours]
    return {
        "type": "line",
        "labels": [h.strftime("%H:00") for h in hours],
        "datasets": [
            {"label": "Requests", "data": requests, "pointRadius": 0, "borderWidth": 1.5},
            {
                "label": "Errors",
                "data": errors,
                "pointRadius": 0,
                "borderWidth": 1.5,
                "borderColor": "#b3261e",
            },
        ],
        "sparkline": True,
        "total": sum(requests),
        "errors": sum(errors),
    }
