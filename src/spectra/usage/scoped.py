"""Reports narrowed to some groups (a team lead's view, or one group): the records attributed to
those groups, summed the way the rollups sum them, and only the records the rollups have counted,
so a scoped report's totals equal the group rows of the workspace report over the same range.

The rollups cannot answer "group G by model" (their dimensions are single or fixed pairs), so
these sums read `usage_records` through its (group_id, created_at) index: a team's records, not
the workspace's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, type_coerce

from spectra.db.session import AnySession
from spectra.db.types import UtcDateTime
from spectra.usage import rollups
from spectra.usage.models import UsageRecord


def _values(dialect: str) -> dict[str, ColumnElement[str]]:
    """Each rollup dimension's value for one record, as the rollups write it."""
    r = UsageRecord
    columns = SimpleNamespace(
        user_v=rollups.id_text(r.user_id, dialect),
        group_v=rollups.id_text(r.group_id, dialect),
        key_v=rollups.id_text(r.key_id, dialect),
        account_v=rollups.id_text(r.account_id, dialect),
        model_v=r.model_requested,
        client_v=r.client_family,
        project_v=rollups.id_text(r.project_id, dialect),
    )
    return dict(rollups.dimension_values(SimpleNamespace(c=columns)))


def _record_range(
    period: str, since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The records the buckets of [since, until) hold: whole hours (or days) it touches."""
    if period == "hour":
        low = rollups.hour_of(since) if since is not None else None
        high = until
        if until is not None and rollups.hour_of(until) != until:
            high = rollups.hour_of(until) + timedelta(hours=1)
        return low, high
    return since, until


async def sum_records(
    session: AnySession,
    *,
    groups: frozenset[uuid.UUID],
    dimension: str,
    since: datetime | None,
    until: datetime | None,
    period: str,
    names: tuple[str, ...],
    group_by_bucket: bool = False,
    value: str | None = None,
) -> list[Any]:
    """Rows shaped like the rollup sums (`value`, `bucket_start` when asked, then `names`) over
    the counted records of `groups` in the buckets of [since, until)."""
    dialect = session.get_bind().dialect.name
    key = _values(dialect).get(dimension)
    if key is None:
        return []  # a dimension the rollups do not have: no rows there either
    measures = rollups.record_measures(UsageRecord)
    keys: list[Any] = [key.label("value") if dimension != "all" else literal("").label("value")]
    grouping: list[Any] = [] if dimension == "all" else [key]
    if group_by_bucket:
        hour, day = rollups.buckets(dialect)
        bucket = type_coerce(hour if period == "hour" else day, UtcDateTime)
        keys.append(bucket.label("bucket_start"))
        grouping.append(bucket)
    stmt = select(*keys, *(func.sum(measures[name]).label(name) for name in names)).where(
        UsageRecord.group_id.in_(sorted(groups)), await rollups.counted_condition(session)
    )
    low, high = _record_range(period, since, until)
    if low is not None:
        stmt = stmt.where(UsageRecord.created_at >= low)
    if high is not None:
        stmt = stmt.where(UsageRecord.created_at < high)
    if value is not None and dimension != "all":
        stmt = stmt.where(key == value)
    if grouping:
        stmt = stmt.group_by(*grouping)
    rows = list((await session.execute(stmt)).all())
    # An empty ungrouped sum is one row of NULLs; the rollups have no row then.
    return [row for row in rows if row.requests]
