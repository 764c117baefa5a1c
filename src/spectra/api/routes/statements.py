"""Statements per user and per group: JSON, CSV or JSON lines (streamed), or a printable page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, StreamingResponse

from spectra.api.deps import ActorDep, ReadSessionDep, RuntimeDep
from spectra.api.media import CSV, HTML, NDJSON, alternatives
from spectra.db.session import read_scope
from spectra.usage import exports, render, statements
from spectra.usage.reads import StatementRead

router = APIRouter(prefix="/statements", tags=["usage"])


@router.get(
    "",
    response_model=StatementRead,
    responses=alternatives(
        CSV, NDJSON, HTML, description="JSON; CSV or JSON lines (streamed); or a printable page."
    ),
)
async def get_statement(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    actor: ActorDep,
    user: str | None = Query(None, description="The user's email."),
    user_id: uuid.UUID | None = None,
    group: str | None = Query(None, description="The group's name."),
    group_id: uuid.UUID | None = None,
    since: str | None = Query(
        None, description="Start: a date (local midnight in the workspace time zone) or a time."
    ),
    until: str | None = Query(None, description="End (exclusive), same forms as `since`."),
    format: str = Query("json", description="json, csv, jsonl or html (printable)."),
    include_usage: bool = Query(False, description="CSV/JSONL: one row per usage transaction."),
    by: str | None = Query(
        None, description="project: also the usage and refunds per project (in the JSON)."
    ),
) -> StatementRead | HTMLResponse | StreamingResponse:
    """A statement for a period (default: the current month in the workspace time zone)."""
    exports.check_report_format(format, html=True)
    who_user, who_group = await statements.resolve_subject(
        session, actor, user_email=user, group_name=group, user_id=user_id, group_id=group_id
    )
    start, end = await statements.resolve_period(session, since=since, until=until)
    statement = await statements.build_statement(
        session, actor, user_id=who_user, group_id=who_group, since=start, until=end, by=by
    )
    if format == "json":
        return StatementRead.model_validate(statement.as_json())
    if format == "html":
        return HTMLResponse(await render.statement_html(session, statement))

    async def body() -> AsyncIterator[str]:
        # Its own read session: the request's closes before a streamed body is sent.
        async with read_scope(runtime.db) as stream_session:
            rows = render.statement_rows(stream_session, statement, include_usage=include_usage)
            async for chunk in exports.stream_rows(rows, format, render.STATEMENT_COLUMNS):
                yield chunk

    name = f"statement-{statement.subject_label}-{start.date()}.{format}".replace(" ", "_")
    media = CSV if format == "csv" else NDJSON
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body(), media_type=media, headers=headers)
