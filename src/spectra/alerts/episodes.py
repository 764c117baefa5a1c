"""Episode detectors: requests refused because no pool account serves the model
(`model_not_served`) or the model has no price (`model_unpriced`), read from the refusal records
in the database, and `settlement_backlog` refusals, read from the counters each gateway process
reports (`gateway_counters`; those refusals are deliberately not written as records).

An episode is a run of such events with no gap of EPISODE_QUIET or longer: it raises one alert
(dedupe key: event, subject and the episode's first event); while it lasts the alert's `data`
keeps its last event and count, so the sweep knows it is the same episode. After a quiet gap
the next event starts a new episode and a new alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from spectra.alerts import service
from spectra.alerts.models import Alert, GatewayCounter
from spectra.db.session import Session
from spectra.usage.models import UsageRecord
from spectra.workspace.schemas import WorkspaceSettings

EPISODE_QUIET = timedelta(minutes=15)
BACKLOG_COUNTER = "settlement_backlog"
COUNTER_RETENTION = timedelta(days=2)
"""Rows of processes that have not reported for this long are removed by the sweep."""
REFUSAL_EVENTS = ("model_not_served", "model_unpriced")


@dataclass(frozen=True, slots=True)
class Activity:
    """The events of one subject after the last one an alert has seen."""

    subject_id: str
    first_at: datetime
    last_at: datetime
    count: int
    processes: int = 0


async def report_counters(
    session: Session, process: str, values: Mapping[str, int], now: datetime
) -> int:
    """Write one process's counters (absolute values since it started); a row is written only
    when its value changed. Returns how many rows were written."""
    rows = {
        row.name: row
        for row in (
            await session.execute(select(GatewayCounter).where(GatewayCounter.process == process))
        ).scalars()
    }
    written = 0
    for name, value in values.items():
        row = rows.get(name)
        if row is None:
            if value == 0:
                continue
            session.add(
                GatewayCounter(
                    process=process, name=name, value=value, changed_at=now, reported_at=now
                )
            )
        elif row.value != value:
            row.value, row.changed_at, row.reported_at = value, now, now
        else:
            continue
        written += 1
    await session.flush()
    return written


async def check_refusals(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """`model_not_served` and `model_unpriced`: the refusal records of the last EPISODE_QUIET,
    by model; one alert per model per episode."""
    raised = 0
    for event in REFUSAL_EVENTS:
        refused = (UsageRecord.status == "refused") & (UsageRecord.refusal_reason == event)
        active = (
            await session.execute(
                select(UsageRecord.model_requested)
                .where(refused, UsageRecord.created_at > now - EPISODE_QUIET)
                .group_by(UsageRecord.model_requested)
            )
        ).scalars()
        for model in list(active):

            async def since(
                after: datetime, model: str = model, refused: Any = refused
            ) -> Activity | None:
                first, last, count = (
                    await session.execute(
                        select(
                            func.min(UsageRecord.created_at),
                            func.max(UsageRecord.created_at),
                            func.count(),
                        ).where(
                            refused,
                            UsageRecord.model_requested == model,
                            UsageRecord.created_at > after,
                        )
                    )
                ).one()
                return Activity(model, first, last, count) if count else None

            raised += await _episode(session, event, model[:100], since, settings, now)
    return raised


async def check_backlog(session: Session, settings: WorkspaceSettings, now: datetime) -> int:
    """`settlement_backlog`: any gateway process whose refusal counter went up in the last
    EPISODE_QUIET; one alert per episode, workspace-wide."""
    await session.execute(
        delete(GatewayCounter).where(GatewayCounter.reported_at < now - COUNTER_RETENTION)
    )
    changed = GatewayCounter.name == BACKLOG_COUNTER
    recent = await session.scalar(
        select(func.count()).where(changed, GatewayCounter.changed_at > now - EPISODE_QUIET)
    )
    if not recent:
        return 0

    async def since(after: datetime) -> Activity | None:
        first, last, total, processes = (
            await session.execute(
                select(
                    func.min(GatewayCounter.changed_at),
                    func.max(GatewayCounter.changed_at),
                    func.coalesce(func.sum(GatewayCounter.value), 0),
                    func.count(),
                ).where(changed, GatewayCounter.changed_at > after)
            )
        ).one()
        return Activity("gateway", first, last, int(total), processes) if processes else None

    return await _episode(session, BACKLOG_COUNTER, "gateway", since, settings, now)


async def _episode(
    session: Session,
    event: str,
    subject_id: str,
    since: Callable[[datetime], Awaitable[Activity | None]],
    settings: WorkspaceSettings,
    now: datetime,
) -> int:
    """Extend the subject's open episode, or raise a new one. Returns 1 when it raised."""
    latest = await session.scalar(
        select(Alert)
        .where(Alert.event == event, Alert.subject_id == subject_id)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(1)
    )
    seen = _last_seen(latest)
    activity = await since(seen or now - EPISODE_QUIET)
    if activity is None:
        return 0
    if latest is not None and seen is not None and activity.first_at - seen < EPISODE_QUIET:
        # Refusal records are counted once each; the counters are totals per process.
        count = activity.count
        if event != BACKLOG_COUNTER:
            count += int(latest.data.get("count", 0))
        latest.data = {**latest.data, "last_seen": activity.last_at.isoformat(), "count": count}
        await session.flush()
        return 0
    title, message = _describe(event, activity, settings.time_zone)
    alert = await service.raise_alert(
        session,
        event=event,
        subject_kind="gateway" if event == BACKLOG_COUNTER else "model",
        subject_id=subject_id,
        dedupe_key=f"{event}:{subject_id}:{activity.first_at.isoformat()}",
        title=title,
        message=message,
        data={
            "first_seen": activity.first_at.isoformat(),
            "last_seen": activity.last_at.isoformat(),
            "count": activity.count,
        },
        time_zone=settings.time_zone,
    )
    return int(alert is not None)


def _last_seen(alert: Alert | None) -> datetime | None:
    if alert is None or not isinstance(alert.data.get("last_seen"), str):
        return None
    return datetime.fromisoformat(alert.data["last_seen"])


def _describe(event: str, activity: Activity, time_zone: str) -> tuple[str, str]:
    local = activity.first_at.astimezone(ZoneInfo(time_zone))
    when = f"{local:%b} {local.day} {local:%H:%M}"
    model, n = activity.subject_id, activity.count
    requests = f"{n} request for {model} was" if n == 1 else f"{n} requests for {model} were"
    if event == "model_not_served":
        return (
            f"No pool account serves {model}",
            f"{requests} refused since {when} because no pool account serves "
            "the model (model_not_served). Add or re-enable an account that lists it on the "
            "Pool page, or point the callers at a model the pool serves.",
        )
    if event == "model_unpriced":
        return (
            f"{model} has no price",
            f"{requests} refused since {when} because the model has no price "
            f"(model_unpriced). Set one with `spectra prices set {model} ...` or on the Prices "
            "page.",
        )
    processes = f"{activity.processes} gateway process{'es' if activity.processes != 1 else ''}"
    return (
        "The gateway refuses requests: settlement backlog",
        f"Since {when} {processes} refused requests with settlement_backlog ({n} so far): "
        "finished requests are written to the database more slowly than they arrive. Check the "
        "database's latency and load, and SPECTRA_COMMIT_MAX_QUEUE (docs/gateway.md).",
    )
