"""Rollups: usage records aggregated by hour and day × dimension, maintained incrementally.

The job walks records by (created_at, id) from its cursor and adds each batch into the rollup
rows with one upsert per (period, dimension, value, bucket); the cursor moves in the same
transaction as the rows, so a crash re-does nothing and skips nothing. Records are read only up
to `now - lag`: a settlement batch that committed late with an earlier `created_at` is still
picked up, as long as it commits within the lag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.kit.clock import utc_now
from spectra.usage.models import UsageRecord, UsageRollup, UsageRollupCursor

CURSOR_NAME = "rollups"
DEFAULT_LAG = timedelta(seconds=30)
DEFAULT_BATCH = 5000
MEASURES = (
    "requests",
    "ok",
    "refused",
    "errors",
    "partial",
    "streamed",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_micros",
    "latency_ms_sum",
    "latency_count",
)
_STATUS_MEASURE = {"ok": "ok", "refused": "refused", "error": "errors", "partial": "partial"}
_COLUMNS = (
    UsageRecord.id,
    UsageRecord.created_at,
    UsageRecord.user_id,
    UsageRecord.group_id,
    UsageRecord.key_id,
    UsageRecord.account_id,
    UsageRecord.model_requested,
    UsageRecord.client_family,
    UsageRecord.status,
    UsageRecord.is_streamed,
    UsageRecord.input_tokens,
    UsageRecord.output_tokens,
    UsageRecord.cache_read_tokens,
    UsageRecord.cache_write_tokens,
    UsageRecord.cost_micros,
    UsageRecord.latency_ms,
)


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _s(value: object | None) -> str:
    return "" if value is None else str(value)


def dimension_values(row: Any) -> list[tuple[str, str]]:
    """The (dimension, value) pairs one record counts towards."""
    user, group = _s(row.user_id), _s(row.group_id)
    model, client = row.model_requested, row.client_family
    account = _s(row.account_id)
    return [
        ("all", ""),
        ("user", user),
        ("group", group),
        ("model", model),
        ("account", account),
        ("key", _s(row.key_id)),
        ("client", client),
        ("user_client", f"{user}|{client}"),
        ("user_model", f"{user}|{model}"),
        ("group_model", f"{group}|{model}"),
        ("account_model", f"{account}|{model}"),
        ("account_user", f"{account}|{user}"),
    ]


def measures_of(row: Any) -> dict[str, int]:
    values = dict.fromkeys(MEASURES, 0)
    values["requests"] = 1
    values[_STATUS_MEASURE.get(row.status, "errors")] = 1
    values["streamed"] = 1 if row.is_streamed else 0
    values["input_tokens"] = row.input_tokens
    values["output_tokens"] = row.output_tokens
    values["cache_read_tokens"] = row.cache_read_tokens
    values["cache_write_tokens"] = row.cache_write_tokens
    values["cost_micros"] = row.cost_micros
    if row.latency_ms is not None:
        values["latency_ms_sum"] = row.latency_ms
        values["latency_count"] = 1
    return values


Key = tuple[str, str, str, datetime]


@dataclass
class Aggregate:
    """Rollup deltas of a batch of records, keyed by (period, dimension, value, bucket)."""

    cells: dict[Key, dict[str, int]] = field(default_factory=dict)

    def add(self, row: Any) -> None:
        measures = measures_of(row)
        buckets = (("hour", hour_of(row.created_at)), ("day", day_of(row.created_at)))
        for dimension, value in dimension_values(row):
            for period, bucket in buckets:
                cell = self.cells.get((period, dimension, value, bucket))
                if cell is None:
                    self.cells[(period, dimension, value, bucket)] = dict(measures)
                else:
                    for name, amount in measures.items():
                        cell[name] += amount

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"period": p, "dimension": d, "value": v, "bucket_start": b, **m}
            for (p, d, v, b), m in self.cells.items()
        ]


def aggregate(rows: Iterable[Any]) -> Aggregate:
    result = Aggregate()
    for row in rows:
        result.add(row)
    return result


async def _upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_fn(UsageRollup)
    table = UsageRollup.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["period", "dimension", "value", "bucket_start"],
        set_={name: table.c[name] + stmt.excluded[name] for name in MEASURES},
    )
    await session.execute(stmt, list(rows))


async def _cursor(session: AsyncSession) -> UsageRollupCursor:
    stmt = select(UsageRollupCursor).where(UsageRollupCursor.name == CURSOR_NAME)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    cursor = (await session.execute(stmt)).scalar_one_or_none()
    if cursor is None:
        cursor = UsageRollupCursor(name=CURSOR_NAME)
        session.add(cursor)
        await session.flush()
    return cursor


async def roll_up(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    lag: timedelta = DEFAULT_LAG,
    batch: int = DEFAULT_BATCH,
) -> int:
    """Add the next batch of records after the cursor into the rollups; returns how many.

    Runs in the caller's transaction: the rows and the cursor commit together.
    """
    cursor = await _cursor(session)
    horizon = (now or utc_now()) - lag
    stmt = select(*_COLUMNS).where(UsageRecord.created_at <= horizon)
    if cursor.last_created_at is not None and cursor.last_id is not None:
        at, last = cursor.last_created_at, cursor.last_id
        stmt = stmt.where(
            or_(
                UsageRecord.created_at > at,
                and_(UsageRecord.created_at == at, UsageRecord.id > last),
            )
        )
    stmt = stmt.order_by(UsageRecord.created_at, UsageRecord.id).limit(batch)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return 0
    await _upsert(session, aggregate(rows).rows())
    cursor.last_created_at = rows[-1].created_at
    cursor.last_id = rows[-1].id
    cursor.updated_at = utc_now()
    await session.flush()
    return len(rows)


async def cursor_position(session: AsyncSession) -> tuple[datetime | None, Any]:
    """Where the rollups have read to: (created_at, id) of the last record counted."""
    row = await session.get(UsageRollupCursor, CURSOR_NAME)
    return (None, None) if row is None else (row.last_created_at, row.last_id)


async def pending_records(session: AsyncSession) -> int:
    """How many records the rollups have not counted yet."""
    at, last = await cursor_position(session)
    stmt = select(func.count()).select_from(UsageRecord)
    if at is not None:
        stmt = stmt.where(
            or_(
                UsageRecord.created_at > at,
                and_(UsageRecord.created_at == at, UsageRecord.id > last),
            )
        )
    return int((await session.execute(stmt)).scalar() or 0)
