"""Audit export formats: CSV and JSON lines, one event at a time (streamed, never buffered)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from spectra.audit.models import AuditEvent
from spectra.kit import spreadsheet

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "jsonl")

FIELDS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_label",
    "actor_user_id",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "details",
    "request_id",
    "client_ip",
    "prev_hash",
    "hash",
)


def event_record(event: AuditEvent) -> dict[str, Any]:
    """One event as plain JSON values (times ISO 8601 UTC, ids as strings)."""
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_kind": event.actor_kind,
        "actor_label": event.actor_label,
        "actor_user_id": str(event.actor_user_id) if event.actor_user_id else None,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "before": event.before,
        "after": event.after,
        "details": event.details,
        "request_id": event.request_id,
        "client_ip": event.client_ip,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    spreadsheet.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "" if value is None else value


async def lines(events: AsyncIterator[AuditEvent], fmt: ExportFormat) -> AsyncIterator[str]:
    """Text lines of the export in `fmt`; CSV starts with a header line."""
    if fmt == "csv":
        yield _csv_line(list(FIELDS))
    async for event in events:
        record = event_record(event)
        if fmt == "csv":
            yield _csv_line([_csv_cell(record[f]) for f in FIELDS])
        else:
            yield json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
