"""/api/audit: query the audit log, export it (CSV or JSON lines, streamed), verify its chain.
The log itself is append-only: no route edits or deletes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import StreamingResponse

from spectra.api.deps import ActorDep, ReadSessionDep, RuntimeDep
from spectra.api.media import CSV, NDJSON, alternatives
from spectra.audit.schemas import AuditEventRead, ChainReportRead
from spectra.audit.service import AuditFilter
from spectra.db.session import ReadSession
from spectra.kit.pagination import ListResource
from spectra.users import service as users_service
from spectra.web.downloads import streamed_lines

router = APIRouter(prefix="/audit", tags=["audit"])


_ACTOR = Query(
    default=None,
    max_length=320,
    alias="actor",
    description="Actor label (email, local:NAME, system) or user id.",
)
_ACTION = Query(
    default=None, max_length=100, description="An action (`users.create`) or a prefix (`ledger.*`)."
)


@router.get("/events")
async def list_events(
    session: ReadSessionDep,
    actor: ActorDep,
    by: str | None = _ACTOR,
    action: str | None = _ACTION,
    target_type: str | None = Query(default=None, max_length=50),
    target_id: str | None = Query(default=None, max_length=64),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[AuditEventRead]:
    """Audit events, newest first, filtered by actor, action, target and time range."""
    page = await users_service.list_audit_events(
        session,
        actor,
        where=AuditFilter(by, action, target_type, target_id, since, until),
        limit=limit,
        cursor=cursor,
    )
    items = [AuditEventRead.of(e) for e in page.items]
    return ListResource(items=items, next_cursor=page.next_cursor)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=alternatives(CSV, NDJSON, description="The events, streamed as CSV or JSON lines."),
)
async def export_events(
    actor: ActorDep,
    runtime: RuntimeDep,
    format: Literal["csv", "jsonl"] = "jsonl",
    by: str | None = _ACTOR,
    action: str | None = _ACTION,
    target_type: str | None = Query(default=None, max_length=50),
    target_id: str | None = Query(default=None, max_length=64),
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    """The matching events, oldest first, streamed as CSV or JSON lines; `x-total-count` says
    how many events match (for a progress bar)."""
    where = AuditFilter(by, action, target_type, target_id, since, until)
    total = 0

    async def open_lines(session: ReadSession) -> AsyncIterator[str]:
        nonlocal total
        total = await users_service.count_audit_events(session, actor, where=where)
        return await users_service.export_audit_events(session, actor, where=where, fmt=format)

    body = await streamed_lines(runtime, open_lines)
    media = f"{CSV}; charset=utf-8" if format == "csv" else NDJSON
    headers = {
        "content-disposition": f'attachment; filename="spectra-audit.{format}"',
        "x-total-count": str(total),
    }
    return StreamingResponse(body, media_type=media, headers=headers)


@router.get("/verify")
async def verify_chain(session: ReadSessionDep, actor: ActorDep) -> ChainReportRead:
    """Walk the hash chain and name the first event that was changed, removed or reordered."""
    return ChainReportRead.model_validate(await users_service.verify_audit_chain(session, actor))
