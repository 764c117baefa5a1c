"""The audit log: filter by actor, action (`ledger.*` prefixes), target and time; paginated;
exported as CSV or JSON lines (streamed); the hash chain verified on demand.

URLs: GET /console/audit, GET /console/audit/export, GET /console/audit/verify.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from spectra.audit.schemas import ChainReportRead
from spectra.audit.service import AuditFilter
from spectra.console.deps import AdminDep, ReadSessionDep, RuntimeDep
from spectra.console.i18n import N_, _
from spectra.console.render import render
from spectra.console.tables import Column, TableSpec
from spectra.db.session import ReadSession
from spectra.users import service as users_service
from spectra.web.downloads import streamed_lines

from .usage import parse_date

router = APIRouter()


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) or "none"
    return str(value)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, str]]:
    """An event's before/after as readable lines: each field that changed, old -> new (a field
    only before was removed, only after was set); unchanged fields are left out."""
    before, after = before or {}, after or {}
    lines = []
    for name in list(before) + [k for k in after if k not in before]:
        old, new = before.get(name), after.get(name)
        if name in before and name in after and old == new:
            continue
        lines.append(
            {
                "field": name.replace("_", " "),
                "old": _shown(old) if name in before else "",
                "new": _shown(new) if name in after else "",
            }
        )
    return lines


def _changes_text(event: Any) -> str:
    return "; ".join(
        f"{c['field']}: {c['old'] or '(none)'} -> {c['new'] or '(removed)'}"
        for c in changes(event.before, event.after)
    )


AUDIT_COLUMNS = (
    Column("id", "#", kind="num"),
    Column("occurred_at", "When", kind="when"),
    Column("who", "Who", "actor_label"),
    Column("action", "Action"),
    Column("target", "Target", lambda e: f"{e.target_type or ''} {e.target_label or ''}".strip()),
    Column("changes", "Changes", _changes_text, sortable=False),
)
AUDIT_EVENTS = TableSpec(
    "audit-events", AUDIT_COLUMNS, empty=N_("No events match: widen the filter or clear it.")
)


def _filter(params: Any) -> AuditFilter:
    return AuditFilter(
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        target_type=params.get("target_type") or None,
        target_id=params.get("target_id") or None,
        since=parse_date(params.get("since")),
        until=parse_date(params.get("until")),
    )


@router.get("/audit")
async def audit(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    return await _page(request, viewer, session)


@router.get("/audit/verify")
async def verify(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    """The log's first page, with the chain's verification above it."""
    report = ChainReportRead.model_validate(
        await users_service.verify_audit_chain(session, viewer.actor)
    )
    return await _page(request, viewer, session, report=report)


async def _page(
    request: Request,
    viewer: Any,
    session: Any,
    *,
    report: ChainReportRead | None = None,
) -> Response:
    page = await users_service.list_audit_events(
        session,
        viewer.actor,
        where=_filter(request.query_params),
        listing=AUDIT_EVENTS.query(request),
    )
    table = AUDIT_EVENTS.show(request, page)
    return table.csv() or render(
        request,
        viewer,
        "audit/index.html",
        title=_("Audit log"),
        nav="Audit",
        table=table,
        export_query=request.url.query,
        audit_changes=changes,
        report=report,
    )


@router.get("/audit/export")
async def export(
    request: Request,
    viewer: AdminDep,
    runtime: RuntimeDep,
    format: Literal["csv", "jsonl"] = "csv",
) -> Response:
    where = _filter(request.query_params)

    async def open_lines(session: ReadSession) -> AsyncIterator[str]:
        return await users_service.export_audit_events(
            session, viewer.actor, where=where, fmt=format
        )

    body = await streamed_lines(runtime, open_lines)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    disposition = f'attachment; filename="spectra-audit.{format}"'
    return StreamingResponse(body, media_type=media, headers={"content-disposition": disposition})
