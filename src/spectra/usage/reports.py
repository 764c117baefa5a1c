"""Reports over the rollups (never over raw records): spend and tokens over time, top users,
by group, model, account, key or client, error and refusal rates, adoption by client.

Reports read rollup buckets: day buckets when the range is whole UTC days, else hour buckets,
so a range is widened to the whole hours it touches. They cover what the rollup job has counted (`as_of`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit.clock import utc_now
from spectra.kit.money import format_amount
from spectra.usage import rollups, scoped
from spectra.usage.errors import InvalidUsageFilterError
from spectra.usage.models import UsageRollup
from spectra.usage.pricing import TOKEN_FIELDS
from spectra.users import service as users_service
from spectra.users.models import Group
from spectra.users.permissions import Permission, allows, require
from spectra.users.scope import led_groups

REPORT_DIMENSIONS = ("user", "group", "model", "account", "key", "client", "project")
LEAD_HIDDEN = frozenset({"account", "account_model", "account_user"})
"""Dimensions a team lead may not report by: the pool's accounts are no business of a lead."""

Labeler = Callable[[AnySession, list[uuid.UUID]], Awaitable[dict[str, str]]]
_LABELERS: dict[str, Labeler] = {}


def register_labels(dimension: str, labeler: Labeler) -> None:
    """Let a higher domain name the values of a dimension it owns (budgets: project names)."""
    _LABELERS[dimension] = labeler


SUMMED = (
    "requests",
    "ok",
    "refused",
    "errors",
    "partial",
    *TOKEN_FIELDS,
    "cost_micros",
    "latency_ms_sum",
    "latency_count",
)


@dataclass
class ReportRow:
    key: str
    label: str
    measures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUMMED, 0))

    def as_json(self) -> dict[str, Any]:
        m = self.measures
        requests = m["requests"]
        return {
            "key": self.key,
            "label": self.label,
            "requests": requests,
            "ok": m["ok"],
            "refused": m["refused"],
            "errors": m["errors"],
            "partial": m["partial"],
            "error_rate": _rate(m["errors"] + m["partial"], requests),
            "refusal_rate": _rate(m["refused"], requests),
            "input_tokens": m["input_tokens"],
            "output_tokens": m["output_tokens"],
            "cache_read_tokens": m["cache_read_tokens"],
            "cache_write_tokens": m["cache_write_tokens"],
            "cache_write_1h_tokens": m["cache_write_1h_tokens"],
            "web_search_calls": m["web_search_calls"],
            "cost": format_amount(m["cost_micros"]),
            "cost_micros": m["cost_micros"],
            "avg_latency_ms": (
                m["latency_ms_sum"] // m["latency_count"] if m["latency_count"] else None
            ),
        }


def _rate(part: int, whole: int) -> str:
    return "0.0000" if whole == 0 else f"{part / whole:.4f}"


@dataclass
class Report:
    by: str
    since: datetime | None
    until: datetime | None
    period: str
    as_of: datetime | None
    rows: list[ReportRow]
    totals: ReportRow

    def as_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": self.since,
            "until": self.until,
            "buckets": self.period,
            "as_of": self.as_of,
            "items": [r.as_json() for r in self.rows],
            "totals": self.totals.as_json(),
            "next_cursor": None,
        }


def _check_range(since: datetime | None, until: datetime | None) -> None:
    for label, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidUsageFilterError(f"{label} needs a time zone.", field=label)
    if since is not None and until is not None and until <= since:
        raise InvalidUsageFilterError("The end of the time range must be after its start.")


def _period_for(since: datetime | None, until: datetime | None) -> str:
    aligned = all(m is None or m == rollups.day_of(m) for m in (since, until))
    return "day" if aligned else "hour"


def _bucket_bounds(
    period: str, since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """A range that is not whole days is widened to whole hours (the hour buckets it touches)."""
    if period == "hour" and since is not None:
        return rollups.hour_of(since), until
    return since, until


async def _sum(
    session: AnySession,
    *,
    dimension: str,
    since: datetime | None,
    until: datetime | None,
    period: str,
    group_by_bucket: bool = False,
    value: str | None = None,
    groups: frozenset[uuid.UUID] | None = None,
) -> list[Any]:
    if groups is not None:
        return await scoped.sum_records(
            session,
            groups=groups,
            dimension=dimension,
            since=since,
            until=until,
            period=period,
            names=SUMMED,
            group_by_bucket=group_by_bucket,
            value=value,
        )
    cols = [func.sum(getattr(UsageRollup, name)).label(name) for name in SUMMED]
    keys: list[Any] = [UsageRollup.value]
    if group_by_bucket:
        keys.append(UsageRollup.bucket_start)
    stmt = select(*keys, *cols).where(
        UsageRollup.period == period, UsageRollup.dimension == dimension
    )
    low, high = _bucket_bounds(period, since, until)
    if low is not None:
        stmt = stmt.where(UsageRollup.bucket_start >= low)
    if high is not None:
        stmt = stmt.where(UsageRollup.bucket_start < high)
    if value is not None:
        stmt = stmt.where(UsageRollup.value == value)
    stmt = stmt.group_by(*keys)
    return list((await session.execute(stmt)).all())


async def labels(session: AnySession, dimension: str, keys: list[str]) -> dict[str, str]:
    """Human labels for dimension values: emails for users, names for groups."""
    ids = []
    for key in keys:
        try:
            ids.append(uuid.UUID(key))
        except ValueError:
            continue
    if dimension == "user" and ids:
        emails = await users_service.user_emails(session, ids)
        return {str(user_id): email for user_id, email in emails.items()}
    if dimension == "group" and ids:
        rows = (await session.execute(select(Group.id, Group.name).where(Group.id.in_(ids)))).all()
        return {str(r[0]): r[1] for r in rows}
    labeler = _LABELERS.get(dimension)
    if labeler is not None and ids:
        return await labeler(session, ids)
    return {}


async def report_groups(
    session: AnySession,
    actor: Actor,
    *,
    group: str | uuid.UUID | None = None,
    dimension: str = "all",
) -> frozenset[uuid.UUID] | None:
    """Whose spend `actor` may read in a report: None for the whole workspace (readers of
    everything who name no group), else the groups it covers: the one named, or every group a
    team lead leads. A lead naming another group (or an unknown one), or reporting by pool
    account, gets the role's own refusal; so does anyone else who may not read everything."""
    if group is not None:
        found = await users_service.group_for(session, actor, group=group)
        if not allows(actor, Permission.READ_ALL) and dimension in LEAD_HIDDEN:
            require(actor, Permission.READ_ALL)
        return frozenset({found.id})
    if allows(actor, Permission.READ_ALL):
        return None
    led = await led_groups(session, actor)
    if not led or dimension in LEAD_HIDDEN:
        require(actor, Permission.READ_ALL)
    return frozenset(led)


def _row_of(key: str, label: str, result: Any) -> ReportRow:
    row = ReportRow(key=key, label=label)
    for name in SUMMED:
        row.measures[name] = int(getattr(result, name) or 0)
    return row


async def usage_report(
    session: AnySession,
    actor: Actor,
    *,
    by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    sort: str = "cost",
    group: str | uuid.UUID | None = None,
) -> Report:
    """Usage grouped by user, group, model, account, key or client over [since, until).

    Rows sorted by cost (or `requests`), largest first; `limit` keeps the top N (top users).
    Narrowed to `group`, or for a team lead to the groups they lead (`report_groups`).
    """
    groups = await report_groups(session, actor, group=group, dimension=by)
    if by not in REPORT_DIMENSIONS:
        raise InvalidUsageFilterError(
            f"Cannot report by '{by}'; use one of {', '.join(REPORT_DIMENSIONS)}.", by=by
        )
    _check_range(since, until)
    period = _period_for(since, until)
    results = await _sum(
        session, dimension=by, since=since, until=until, period=period, groups=groups
    )
    names = await labels(session, by, [r.value for r in results])
    rows = [_row_of(r.value, names.get(r.value, r.value or "(none)"), r) for r in results]
    measure = "requests" if sort == "requests" else "cost_micros"
    rows.sort(key=lambda r: (-r.measures[measure], r.label))
    totals = ReportRow(key="", label="total")
    for row in rows:
        for name in SUMMED:
            totals.measures[name] += row.measures[name]
    if limit is not None:
        rows = rows[:limit]
    as_of, _ = await rollups.cursor_position(session)
    return Report(by, since, until, period, as_of, rows, totals)


async def timeseries(
    session: AnySession,
    actor: Actor,
    *,
    period: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    dimension: str = "all",
    value: str | None = None,
    group: str | uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """Spend and tokens per hour or day bucket (UTC), for the workspace or one dimension value.
    A member may read their own series (`dimension="user"`, `value` = their id); a team lead
    reads the groups they lead (or the one of them named by `group`)."""
    groups: frozenset[uuid.UUID] | None = None
    if (
        group is None
        and dimension == "user"
        and actor.user_id is not None
        and value == str(actor.user_id)
    ):
        require(actor, Permission.SELF)
    else:
        groups = await report_groups(session, actor, group=group, dimension=dimension)
    if period not in ("hour", "day"):
        raise InvalidUsageFilterError("period must be 'hour' or 'day'.", period=period)
    _check_range(since, until)
    results = await _sum(
        session,
        dimension=dimension,
        since=since,
        until=until,
        period=period,
        group_by_bucket=True,
        value="" if dimension == "all" else value,
        groups=groups,
    )
    merged: dict[datetime, ReportRow] = {}
    for r in results:
        row = merged.setdefault(r.bucket_start, ReportRow(key=r.bucket_start.isoformat(), label=""))
        for name in SUMMED:
            row.measures[name] += int(getattr(r, name) or 0)
    return [{"bucket_start": b, **merged[b].as_json()} for b in sorted(merged)]


async def adoption(
    session: AnySession,
    actor: Actor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    group: str | uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """Per client family: how many members used it, and their requests, over [since, until)
    (narrowed like `usage_report`)."""
    groups = await report_groups(session, actor, group=group, dimension="user_client")
    _check_range(since, until)
    period = _period_for(since, until)
    results = await _sum(
        session,
        dimension="user_client",
        since=since,
        until=until,
        period=period,
        groups=groups,
    )
    users: dict[str, set[str]] = defaultdict(set)
    requests: dict[str, int] = defaultdict(int)
    cost: dict[str, int] = defaultdict(int)
    for r in results:
        user, _, client = r.value.partition("|")
        if user:
            users[client].add(user)
        requests[client] += int(r.requests or 0)
        cost[client] += int(r.cost_micros or 0)
    all_users = set().union(*users.values()) if users else set()
    return sorted(
        (
            {
                "client": client,
                "members": len(users[client]),
                "share_of_members": _rate(len(users[client]), len(all_users)),
                "requests": requests[client],
                "cost": format_amount(cost[client]),
                "cost_micros": cost[client],
            }
            for client in requests
        ),
        key=lambda item: (-int(item["members"]), str(item["client"])),
    )


def default_range(days: int = 30) -> tuple[datetime, datetime]:
    """The last `days` whole UTC days up to the end of today."""
    end = rollups.day_of(utc_now()) + timedelta(days=1)
    return end - timedelta(days=days), end
