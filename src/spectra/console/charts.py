"""Chart specs for Chart.js, built from the usage reports over rollups (never raw records).

A spec is plain JSON: {"type", "labels", "datasets": [{"label", "data"}], "stacked", "yTitle"};
the page embeds it with `json_script` and static/console.js draws it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.money import to_decimal
from spectra.usage import reports

MEASURES = {
    "cost": ("cost_micros", "Spend"),
    "tokens": ("tokens", "Tokens"),
    "requests": ("requests", "Requests"),
    "errors": ("errors", "Errors and refusals"),
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
        "yTitle": MEASURES.get(measure, MEASURES["cost"])[1],
    }
