"""Usage records, filtered and paginated (members see their own)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from spectra.api.deps import ActorDep, ReadSessionDep, RuntimeDep
from spectra.api.media import CSV, DOWNLOADS, NDJSON, alternatives
from spectra.db.session import ReadSession
from spectra.kit.pagination import ListResource
from spectra.usage import economics, exports, forecasts, reports, statements
from spectra.usage import jobs as usage_jobs
from spectra.usage import service as usage_service
from spectra.usage.reads import (
    AdoptionRowRead,
    EconomicsRead,
    ForecastReportRead,
    ReconcileRead,
    TimeseriesRowRead,
    UsageReportRead,
)
from spectra.usage.schemas import UsageRecordRead
from spectra.users import service as users_service
from spectra.users.permissions import Permission, require
from spectra.web.downloads import streamed_lines

router = APIRouter(prefix="/usage", tags=["usage"])

FormatQuery = Query("json", description="json, or csv / jsonl for a streamed download.")


def _download(
    items: list[dict[str, Any]], fmt: str, columns: tuple[str, ...], name: str
) -> StreamingResponse:
    media = CSV if fmt == "csv" else NDJSON
    headers = {"content-disposition": f'attachment; filename="{name}.{fmt}"'}
    return StreamingResponse(
        exports.stream_rows(items, fmt, columns), media_type=media, headers=headers
    )


def _report(
    fmt: str, data: dict[str, Any], columns: tuple[str, ...], name: str, read: type[BaseModel]
) -> Any:
    """A report as JSON (`read`), or its rows as a streamed CSV / JSON-lines download."""
    if fmt != "json":
        return _download(data["items"], fmt, columns, name)
    return read.model_validate(data)


@router.get("")
async def list_usage(
    session: ReadSessionDep,
    actor: ActorDep,
    user_id: uuid.UUID | None = None,
    user: str | None = Query(None, description="The user's email."),
    group_id: uuid.UUID | None = None,
    group: str | None = Query(None, description="The group's name."),
    key_id: uuid.UUID | None = None,
    model: str | None = None,
    account_id: uuid.UUID | None = None,
    client: str | None = None,
    status: str | None = None,
    refusal_reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListResource[UsageRecordRead]:
    page = await usage_service.list_usage(
        session,
        actor,
        user_id=user_id,
        user_email=user,
        group_id=group_id,
        group_name=group,
        key_id=key_id,
        model=model,
        account_id=account_id,
        client=client,
        status=status,
        refusal_reason=refusal_reason,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    emails = page.extra.get("emails", {})
    items = [UsageRecordRead.model_validate(r) for r in page.items]
    for item in items:
        item.user_email = emails.get(item.user_id)
    return ListResource(items=items, next_cursor=page.next_cursor)


@router.get("/report", response_model=UsageReportRead, responses=DOWNLOADS)
async def usage_report(
    session: ReadSessionDep,
    actor: ActorDep,
    by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    sort: str = "cost",
    group: str | None = None,
    format: str = FormatQuery,
) -> Any:
    """Usage by a dimension; a team lead sees the groups they lead (`group` narrows to one)."""
    exports.check_report_format(format)
    report = await reports.usage_report(
        session, actor, by=by, since=since, until=until, limit=limit, sort=sort, group=group
    )
    return _report(
        format, report.as_json(), exports.REPORT_COLUMNS, f"usage-by-{by}", UsageReportRead
    )


@router.get("/timeseries", response_model=ListResource[TimeseriesRowRead], responses=DOWNLOADS)
async def usage_timeseries(
    session: ReadSessionDep,
    actor: ActorDep,
    period: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    dimension: str = "all",
    value: str | None = None,
    group: str | None = None,
    format: str = FormatQuery,
) -> Any:
    exports.check_report_format(format)
    items = await reports.timeseries(
        session,
        actor,
        period=period,
        since=since,
        until=until,
        dimension=dimension,
        value=value,
        group=group,
    )
    return _report(
        format,
        {"items": items},
        exports.TIMESERIES_COLUMNS,
        "usage-timeseries",
        ListResource[TimeseriesRowRead],
    )


@router.get("/adoption", response_model=ListResource[AdoptionRowRead], responses=DOWNLOADS)
async def usage_adoption(
    session: ReadSessionDep,
    actor: ActorDep,
    since: datetime | None = None,
    until: datetime | None = None,
    group: str | None = None,
    format: str = FormatQuery,
) -> Any:
    exports.check_report_format(format)
    items = await reports.adoption(session, actor, since=since, until=until, group=group)
    return _report(
        format,
        {"items": items},
        exports.ADOPTION_COLUMNS,
        "usage-adoption",
        ListResource[AdoptionRowRead],
    )


@router.get("/forecast", response_model=ForecastReportRead, responses=DOWNLOADS)
async def usage_forecast(
    session: ReadSessionDep,
    actor: ActorDep,
    user: str | None = Query(None, description="One user (by email)."),
    group: str | None = Query(None, description="One group (by name) and its members."),
    window_days: int = 7,
    limit: int = 50,
    format: str = FormatQuery,
    by: str | None = Query(
        None, description="project: the workspace and each project (instead of groups and users)."
    ),
) -> Any:
    """Burn rate, projected month spend against budgets, and runway; `method` says how."""
    exports.check_report_format(format)
    user_id = group_id = None
    if user is not None or group is not None:
        user_id, group_id = await statements.resolve_subject(
            session, actor, user_email=user, group_name=group
        )
    data = await forecasts.forecast(
        session,
        actor,
        user_id=user_id,
        group_id=group_id,
        window_days=window_days,
        limit=limit,
        by=by,
    )
    return _report(format, data, forecasts.FORECAST_COLUMNS, "usage-forecast", ForecastReportRead)


@router.get("/economics", response_model=EconomicsRead, responses=DOWNLOADS)
async def usage_economics(
    session: ReadSessionDep,
    actor: ActorDep,
    since: str | None = Query(None, description="A date (workspace time zone) or a time."),
    until: str | None = Query(None, description="End (exclusive); default: the month's end."),
    format: str = FormatQuery,
) -> Any:
    """Per pool account and model: served, charged, cost at list price; fixed-cost accounts'
    cost per active member and idle share (`accounts`)."""
    exports.check_report_format(format)
    start, end = await statements.resolve_period(session, since=since, until=until)
    data = await economics.pool_economics(session, actor, since=start, until=end)
    return _report(format, data, economics.ECONOMICS_COLUMNS, "pool-economics", EconomicsRead)


@router.get("/reconcile", response_model=ReconcileRead, responses=DOWNLOADS)
async def usage_reconcile(
    session: ReadSessionDep,
    actor: ActorDep,
    since: str | None = Query(None, description="A date (workspace time zone) or a time."),
    until: str | None = Query(None, description="End (exclusive); default: the month's end."),
    format: str = FormatQuery,
) -> Any:
    """Per month: members charged vs pool cost at list price vs fixed account costs."""
    exports.check_report_format(format)
    start, end = await statements.resolve_period(
        session, since=since, until=until, to_current_month=True
    )
    data = await economics.reconcile(session, actor, since=start, until=end)
    return _report(format, data, economics.RECONCILE_COLUMNS, "reconcile", ReconcileRead)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=alternatives(
        CSV, NDJSON, description="Usage records, streamed as CSV or JSON lines."
    ),
)
async def export_usage(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    actor: ActorDep,
    format: str = "csv",
    user: str | None = None,
    model: str | None = None,
    client: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    user_id = None
    if user is not None:
        user_id = (await users_service.require_user(session, actor, email=user)).id
    filters = exports.authorize_export(
        actor,
        fmt=format,
        user_id=user_id,
        model=model,
        client=client,
        status=status,
        since=since,
        until=until,
    )

    async def open_lines(stream_session: ReadSession) -> AsyncIterator[str]:
        return exports.stream_records(stream_session, filters, fmt=format)

    body = await streamed_lines(runtime, open_lines)
    media = CSV if format == "csv" else NDJSON
    headers = {"content-disposition": f'attachment; filename="usage.{format}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


class RollupRead(BaseModel):
    counted: int
    """Usage records counted into the rollups by this call."""


@router.post("/rollup")
async def roll_up(actor: ActorDep, runtime: RuntimeDep) -> RollupRead:
    """Count every pending usage record into the rollups now (servers do it every few seconds).
    Idempotent; changes no figure, only how current the reports are."""
    require(actor, Permission.READ_ALL)
    return RollupRead(counted=await usage_jobs.run_rollups(runtime.db, lag=timedelta(0)))
