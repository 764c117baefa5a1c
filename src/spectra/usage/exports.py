"""Streamed exports: usage records and report rows as CSV or JSON lines, never all in memory.

Records are read in keyset pages of (created_at, id), oldest first; each page is rendered and
handed on before the next is read.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_

from spectra.audit.actor import Actor
from spectra.db.session import AnySession
from spectra.kit import spreadsheet
from spectra.kit.money import format_amount
from spectra.usage import repository
from spectra.usage.errors import InvalidUsageFilterError
from spectra.usage.models import UsageRecord
from spectra.usage.pricing import TOKEN_FIELDS
from spectra.users.permissions import Permission, allows, require

FORMATS = ("csv", "jsonl")
EXPORT_COLUMNS = (
    "id",
    "created_at",
    "started_at",
    "request_id",
    "user_id",
    "key_id",
    "group_id",
    "account_id",
    "protocol",
    "model_requested",
    "model_served",
    "is_streamed",
    "status",
    "error_type",
    "refusal_reason",
    "refusal_rule",
    "refusal_message",
    *TOKEN_FIELDS,
    "cost",
    "cost_micros",
    "price_version",
    "latency_ms",
    "ttfb_ms",
    "attempts",
    "client_family",
    "ledger_transaction_id",
    "funding",
    "protocol_served",
    "fallback_reason",
    "fallback_trace",
    "project_id",
)
CHUNK = 1000


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidUsageFilterError(f"Unknown format '{fmt}'; use csv or jsonl.", format=fmt)


def _scope(actor: Actor, filters: dict[str, Any]) -> dict[str, Any]:
    """Members export only their own records; others need READ_ALL."""
    if allows(actor, Permission.READ_ALL):
        return filters
    require(actor, Permission.SELF)
    if actor.user_id is None or filters.get("user_id") not in (None, actor.user_id):
        require(actor, Permission.READ_ALL)
    return {**filters, "user_id": actor.user_id}


def authorize_export(actor: Actor, *, fmt: str, **filters: Any) -> dict[str, Any]:
    """Check the caller and the format before a stream starts; returns the effective filters."""
    check_format(fmt)
    for label in ("since", "until"):
        moment = filters.get(label)
        if isinstance(moment, datetime) and moment.tzinfo is None:
            raise InvalidUsageFilterError(f"{label} needs a time zone.", field=label)
    return _scope(actor, filters)


def record_dict(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in EXPORT_COLUMNS:
        if name == "cost":
            out[name] = format_amount(row.cost_micros)
        elif name == "funding":
            out[name] = row.funding
        else:
            value = getattr(row, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def render(
    rows: Iterable[Mapping[str, Any]], fmt: str, columns: Sequence[str], *, header: bool
) -> str:
    """Rows as CSV (with a header line when `header`) or JSON lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(dict(r), default=str, ensure_ascii=False) + "\n" for r in rows)
    buffer = io.StringIO()
    writer = spreadsheet.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for r in rows:
        writer.writerow(
            [
                json.dumps(r.get(c), default=str)
                if isinstance(r.get(c), list | dict)
                else _cell(r.get(c))
                for c in columns
            ]
        )
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def count_records(session: AnySession, filters: dict[str, Any]) -> int:
    stmt = repository.usage_query(**filters).with_only_columns(func.count()).order_by(None)
    return int((await session.execute(stmt)).scalar() or 0)


async def stream_records(
    session: AnySession, filters: dict[str, Any], *, fmt: str, chunk: int = CHUNK
) -> AsyncIterator[str]:
    """Yield the export text page by page (`filters` from `authorize_export`)."""
    base = repository.usage_query(**filters)
    last: tuple[datetime, Any] | None = None
    first = True
    while True:
        stmt = base
        if last is not None:
            at, ident = last
            stmt = stmt.where(
                or_(
                    UsageRecord.created_at > at,
                    and_(UsageRecord.created_at == at, UsageRecord.id > ident),
                )
            )
        stmt = stmt.order_by(UsageRecord.created_at, UsageRecord.id).limit(chunk)
        rows = list((await session.execute(stmt)).scalars().all())
        if first and fmt == "csv":
            yield render([], fmt, EXPORT_COLUMNS, header=True)
        first = False
        if not rows:
            return
        yield render([record_dict(r) for r in rows], fmt, EXPORT_COLUMNS, header=False)
        for r in rows:
            session.expunge(r)
        last = (rows[-1].created_at, rows[-1].id)
        if len(rows) < chunk:
            return


REPORT_FORMATS = ("json", "csv", "jsonl")


def check_report_format(fmt: str, *, html: bool = False) -> None:
    allowed = (*REPORT_FORMATS, "html") if html else REPORT_FORMATS
    if fmt not in allowed:
        raise InvalidUsageFilterError(
            f"Unknown format '{fmt}'; use {', '.join(allowed[:-1])} or {allowed[-1]}.", format=fmt
        )


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


async def stream_rows(
    rows: AsyncIterator[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    fmt: str,
    columns: Sequence[str],
    *,
    chunk: int = CHUNK,
) -> AsyncIterator[str]:
    """Yield report rows as CSV (header first, only `columns`) or JSON lines (every key), in
    chunks of `chunk` rows: a caller that produces rows lazily never holds them all."""
    check_format(fmt)
    if fmt == "csv":
        yield render([], fmt, columns, header=True)
    batch: list[Mapping[str, Any]] = []
    if isinstance(rows, AsyncIterator):
        async for row in rows:
            batch.append(_flat(row))
            if len(batch) >= chunk:
                yield render(batch, fmt, columns, header=False)
                batch = []
    else:
        for row in rows:
            batch.append(_flat(row))
            if len(batch) >= chunk:
                yield render(batch, fmt, columns, header=False)
                batch = []
    if batch:
        yield render(batch, fmt, columns, header=False)


REPORT_COLUMNS = (
    "key",
    "label",
    "requests",
    "ok",
    "refused",
    "errors",
    "partial",
    "error_rate",
    "refusal_rate",
    *TOKEN_FIELDS,
    "cost",
    "cost_micros",
    "avg_latency_ms",
)
TIMESERIES_COLUMNS = ("bucket_start", *REPORT_COLUMNS[2:])
ADOPTION_COLUMNS = ("client", "members", "share_of_members", "requests", "cost", "cost_micros")
