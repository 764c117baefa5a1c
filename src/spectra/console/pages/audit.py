"""The audit log: filter by actor, action (`ledger.*` prefixes), target and time; paginated;
exported as CSV or JSON lines (streamed); the hash chain verified on demand.

URLs: GET /console/audit, GET /console/audit/export, GET /console/audit/verify.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from spectra.audit.schemas import ChainReportRead
from spectra.audit.service import AuditFilter
from spectra.console.deps import AdminDep, ReadSessionDep, RuntimeDep
from spectra.console.render import render
from spectra.db.session import ReadSession
from spectra.errors import InvalidError
from spectra.users import service as users_service
from spectra.web.downloads import streamed_lines

router = APIRouter()


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidError("Dates look like 2026-11-01.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filter(params: Any) -> AuditFilter:
    return AuditFilter(
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        target_type=params.get("target_type") or None,
        target_id=params.get("target_id") or None,
        since=_date(params.get("since")),
        until=_date(params.get("until")),
    )


@router.get("/audit")
async def audit(
    request: Request, viewer: AdminDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    page = await users_service.list_audit_events(
        session, viewer.actor, where=_filter(request.query_params), limit=50, cursor=cursor
    )
    return render(
        request,
        viewer,
        "audit/index.html",
        title="Audit log",
        nav="Audit",
        events=page.items,
        next_cursor=page.next_cursor,
        export_query=request.url.query,
        report=None,
    )


@router.get("/audit/verify")
async def verify(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    report = ChainReportRead.model_validate(
        await users_service.verify_audit_chain(session, viewer.actor)
    )
    page = await users_service.list_audit_events(
        session, viewer.actor, where=AuditFilter(), limit=50
    )
    return render(
        request,
        viewer,
        "audit/index.html",
        title="Audit log",
        nav="Audit",
        events=page.items,
        next_cursor=page.next_cursor,
        export_query="",
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
