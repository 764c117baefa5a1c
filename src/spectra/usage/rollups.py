"""Rollups: usage records aggregated by hour and day × dimension, maintained incrementally.

The job walks records by (created_at, id) from its cursor. Each run takes the next `batch`
records as a bounded key range (cursor, end] and adds them into the rollup rows with ONE
`INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE` (sums added to the existing rows), so
every dimension and period is aggregated from the same snapshot of the range; the cursor moves
to `end` in the same transaction as the rows, so a crash re-does nothing and skips nothing.
Records are read only up to `now - lag`: a settlement batch that committed late with an earlier
`created_at` is still picked up, as long as it commits within the lag. Buckets are UTC hours and
UTC days of `created_at`, computed in SQL (no time zone or DST involved).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from spectra.db.session import AnySession, Session
from spectra.kit.clock import utc_now
from spectra.usage.models import UsageRecord, UsageRollup, UsageRollupCursor
from spectra.usage.pricing import TOKEN_FIELDS

CURSOR_NAME = "rollups"
DEFAULT_LAG = timedelta(seconds=30)
DEFAULT_BATCH = 10_000
_PG_WORK_MEM = "64MB"
MAX_RECORD_TOKENS = 2**31 - 1
"""What PostgreSQL's INTEGER token columns hold; SQLite would store more."""
MEASURES = (
    "requests",
    "ok",
    "refused",
    "errors",
    "partial",
    "streamed",
    *TOKEN_FIELDS,
    "cost_micros",
    "latency_ms_sum",
    "latency_count",
)
_STATUS_MEASURE = {"ok": "ok", "refused": "refused", "partial": "partial"}
"""Measure counted per status; any other status (i.e. `error`) counts as `errors`."""


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _after(at: datetime, last: Any) -> ColumnElement[bool]:
    """Records strictly after the key (at, last) in (created_at, id) order."""
    return and_(
        UsageRecord.created_at >= at,
        or_(
            UsageRecord.created_at > at,
            and_(UsageRecord.created_at == at, UsageRecord.id > last),
        ),
    )


def _up_to(at: datetime, last: Any) -> ColumnElement[bool]:
    """Records at or before the key (at, last) in (created_at, id) order."""
    return and_(
        UsageRecord.created_at <= at,
        or_(
            UsageRecord.created_at < at,
            and_(UsageRecord.created_at == at, UsageRecord.id <= last),
        ),
    )


def buckets(dialect: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The UTC hour and UTC day of `created_at`, as the column stores them.

    SQLite stores naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff`, so truncating the text is exact
    and yields the same text the ORM writes for a bucket; PostgreSQL truncates in UTC whatever
    the session's TimeZone.
    """
    at: Any = UsageRecord.created_at
    if dialect == "postgresql":
        utc = func.timezone("UTC", at)
        return (
            func.timezone("UTC", func.date_trunc("hour", utc)),
            func.timezone("UTC", func.date_trunc("day", utc)),
        )
    stored = type_coerce(at, String)
    return (
        func.substr(stored, 1, 13).concat(":00:00.000000"),
        func.substr(stored, 1, 10).concat(" 00:00:00.000000"),
    )


def id_text(column: Any, dialect: str) -> ColumnElement[str]:
    """An id as `str(uuid)` writes it (lower-case, hyphenated), "" for None."""
    if dialect == "postgresql":
        return func.coalesce(func.cast(column, String), "")
    hex_ = type_coerce(column, String)
    parts = [
        func.substr(hex_, start, length)
        for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    ]
    joined: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        joined = joined.concat("-").concat(part)
    return func.coalesce(joined, "")


def _bounded(column: Any) -> ColumnElement[Any]:
    """A record's token count, at most `MAX_RECORD_TOKENS`: the gateway clamps what it writes
    (docs/gateway.md), and an older absurd row must not overflow a batch's sums and stop the
    job for every record after it."""
    return case((column > MAX_RECORD_TOKENS, MAX_RECORD_TOKENS), else_=column)


def record_measures(c: Any) -> dict[str, ColumnElement[Any]]:
    """Each measure's value for one record, over columns named like `UsageRecord`'s (`c` is the
    record class itself or a subquery's `.c`): what the rollups add up, and the lead's scoped
    reports too (`reports`), so both count a record the same way."""
    status = c.status
    return {
        "requests": literal(1),
        "ok": case((status == "ok", 1), else_=0),
        "refused": case((status == "refused", 1), else_=0),
        "errors": case((status.in_(tuple(_STATUS_MEASURE)), 0), else_=1),
        "partial": case((status == "partial", 1), else_=0),
        "streamed": case((c.is_streamed.is_(True), 1), else_=0),
        "input_tokens": _bounded(c.input_tokens),
        "output_tokens": _bounded(c.output_tokens),
        "cache_read_tokens": _bounded(c.cache_read_tokens),
        "cache_write_tokens": _bounded(c.cache_write_tokens),
        "cache_write_1h_tokens": _bounded(c.cache_write_1h_tokens),
        "web_search_calls": _bounded(c.web_search_calls),
        "cost_micros": c.cost_micros,
        "latency_ms_sum": func.coalesce(c.latency_ms, 0),
        "latency_count": case((c.latency_ms.is_(None), 0), else_=1),
    }


def _fine(dialect: str, low: tuple[datetime, Any] | None, high: tuple[datetime, Any]) -> Any:
    """The range's records summed per (hour, day, user, group, key, account, model, client,
    project)."""
    r = UsageRecord
    hour, day = buckets(dialect)
    rows = select(
        hour.label("bucket_hour"),
        day.label("bucket_day"),
        r.user_id,
        r.group_id,
        r.key_id,
        r.account_id,
        r.model_requested,
        r.client_family,
        r.project_id,
        r.status,
        r.is_streamed,
        *(getattr(r, name) for name in TOKEN_FIELDS),
        r.cost_micros,
        r.latency_ms,
    ).where(_up_to(*high))
    if low is not None:
        rows = rows.where(_after(*low))
    src = rows.subquery("range_records")

    per_record = record_measures(src.c)
    stmt = select(
        src.c.bucket_hour,
        src.c.bucket_day,
        id_text(src.c.user_id, dialect).label("user_v"),
        id_text(src.c.group_id, dialect).label("group_v"),
        id_text(src.c.key_id, dialect).label("key_v"),
        id_text(src.c.account_id, dialect).label("account_v"),
        src.c.model_requested.label("model_v"),
        src.c.client_family.label("client_v"),
        id_text(src.c.project_id, dialect).label("project_v"),
        *(func.sum(e).label(m) for m, e in per_record.items()),
    ).group_by(
        src.c.bucket_hour,
        src.c.bucket_day,
        src.c.user_id,
        src.c.group_id,
        src.c.key_id,
        src.c.account_id,
        src.c.model_requested,
        src.c.client_family,
        src.c.project_id,
    )
    return stmt.cte("fine")


def dimension_values(fine: Any) -> list[tuple[str, ColumnElement[str]]]:
    """Per dimension, the value a fine row counts towards (pairs are "<first>|<second>")."""
    c = fine.c

    def pair(first: ColumnElement[str], second: ColumnElement[str]) -> ColumnElement[str]:
        return first.concat("|").concat(second)

    return [
        ("all", literal("")),
        ("user", c.user_v),
        ("group", c.group_v),
        ("model", c.model_v),
        ("account", c.account_v),
        ("key", c.key_v),
        ("client", c.client_v),
        ("project", c.project_v),
        ("user_client", pair(c.user_v, c.client_v)),
        ("user_model", pair(c.user_v, c.model_v)),
        ("group_model", pair(c.group_v, c.model_v)),
        ("account_model", pair(c.account_v, c.model_v)),
        ("account_user", pair(c.account_v, c.user_v)),
    ]


def _upsert_range(
    dialect: str, low: tuple[datetime, Any] | None, high: tuple[datetime, Any]
) -> Any:
    """One statement: every (period, dimension) aggregate of the range, added into the rollups."""
    fine = _fine(dialect, low, high)
    parts = []
    for period, bucket in (("hour", fine.c.bucket_hour), ("day", fine.c.bucket_day)):
        for dimension, value in dimension_values(fine):
            parts.append(
                select(
                    literal(period).label("period"),
                    literal(dimension).label("dimension"),
                    value.label("value"),
                    bucket.label("bucket_start"),
                    *(func.sum(fine.c[m]).label(m) for m in MEASURES),
                ).group_by(*([bucket] if dimension == "all" else [value, bucket]))
            )
    cells = union_all(*parts).subquery("cells")
    columns = ["period", "dimension", "value", "bucket_start", *MEASURES]
    # `WHERE true`: SQLite's parser needs it to read ON CONFLICT after INSERT … SELECT.
    source = select(*(cells.c[name] for name in columns)).where(true())
    stmt = _insert(dialect)(UsageRollup).from_select(columns, source)
    table = UsageRollup.__table__
    return stmt.on_conflict_do_update(
        index_elements=["period", "dimension", "value", "bucket_start"],
        set_={name: table.c[name] + stmt.excluded[name] for name in MEASURES},
    )


def _insert(dialect: str) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def _cursor(session: Session) -> UsageRollupCursor:
    """The rollup cursor, locked for this transaction. The first roll-up creates it; two
    processes may both find it missing (the serving process's job and a command), so it is
    created with ON CONFLICT DO NOTHING and then read (and locked) like an existing one."""
    stmt = select(UsageRollupCursor).where(UsageRollupCursor.name == CURSOR_NAME)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    cursor = (await session.execute(stmt)).scalar_one_or_none()
    if cursor is None:
        await session.execute(
            _insert(dialect)(UsageRollupCursor)
            .values(name=CURSOR_NAME, updated_at=utc_now())
            .on_conflict_do_nothing(index_elements=[UsageRollupCursor.name])
        )
        cursor = (await session.execute(stmt)).scalar_one()
    return cursor


async def _range_end(
    session: AnySession, low: tuple[datetime, Any] | None, horizon: datetime, batch: int
) -> tuple[datetime, Any, int] | None:
    """The key of the `batch`-th record after `low` up to `horizon` (or of the last one there),
    and how many records (low, end] holds; None when there are none."""
    first = (
        select(UsageRecord.created_at, UsageRecord.id)
        .where(UsageRecord.created_at <= horizon)
        .order_by(UsageRecord.created_at, UsageRecord.id)
        .limit(batch)
    )
    if low is not None:
        first = first.where(_after(*low))
    sub = first.subquery("next_records")
    stmt = (
        select(sub.c.created_at, sub.c.id, func.count().over().label("n"))
        .order_by(sub.c.created_at.desc(), sub.c.id.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else (row.created_at, row.id, int(row.n))


async def roll_up(
    session: Session,
    *,
    now: datetime | None = None,
    lag: timedelta = DEFAULT_LAG,
    batch: int = DEFAULT_BATCH,
) -> int:
    """Add the next batch of records after the cursor into the rollups; returns how many.

    Runs in the caller's transaction: the rows and the cursor commit together. The range is
    fixed by its end key first, then aggregated by one statement (one snapshot on PostgreSQL):
    a record that commits in between inside the range is counted by that statement, never
    twice and never skipped by the cursor (the count returned is the one seen when the range
    was fixed, so it can then be a few short).
    """
    cursor = await _cursor(session)
    horizon = (now or utc_now()) - lag
    low = None
    if cursor.last_created_at is not None and cursor.last_id is not None:
        low = (cursor.last_created_at, cursor.last_id)
    end = await _range_end(session, low, horizon, batch)
    if end is None:
        return 0
    at, last, count = end
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Room for the batch's hash aggregates in memory (the stock 4 MB spills them to disk);
        # LOCAL: for this transaction only.
        await session.execute(text(f"SET LOCAL work_mem = '{_PG_WORK_MEM}'"))
    await session.execute(_upsert_range(dialect, low, (at, last)))
    cursor.last_created_at = at
    cursor.last_id = last
    cursor.updated_at = utc_now()
    await session.flush()
    return count


async def cursor_position(session: AnySession) -> tuple[datetime | None, Any]:
    """Where the rollups have read to: (created_at, id) of the last record counted."""
    row = await session.get(UsageRollupCursor, CURSOR_NAME)
    return (None, None) if row is None else (row.last_created_at, row.last_id)


async def counted_condition(session: AnySession) -> ColumnElement[bool]:
    """A condition on `UsageRecord` true for the records the rollups have counted."""
    at, last = await cursor_position(session)
    return _up_to(at, last) if at is not None else literal(False)


async def pending_records(session: AnySession) -> int:
    """How many records the rollups have not counted yet."""
    at, last = await cursor_position(session)
    stmt = select(func.count()).select_from(UsageRecord)
    if at is not None:
        stmt = stmt.where(_after(at, last))
    return int((await session.execute(stmt)).scalar() or 0)
