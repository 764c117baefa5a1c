"""Usage and billing: charts of spend (tokens, requests, errors) per day by group, model or
client from the rollups; the report table by any dimension; adoption by client; usage records
with filters (paginated); streamed CSV/JSONL exports; prices.

URLs: GET /console/usage, GET /console/usage/export, GET /console/prices, POST /console/prices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from spectra.console.charts import MEASURES, series_chart
from spectra.console.deps import AdminDep, ReadSessionDep, RuntimeDep, SessionDep
from spectra.console.forms import Form
from spectra.console.i18n import N_, _
from spectra.console.refusals import explain_reason
from spectra.console.render import redirect, render
from spectra.console.tables import Column, Table, TableSpec
from spectra.db.session import read_scope
from spectra.errors import InvalidError
from spectra.usage import exports, reports
from spectra.usage import service as usage_service
from spectra.users import service as users_service

router = APIRouter()

DIMENSIONS = ("group", "model", "client", "user", "account", "key")
RANGES = (("7", N_("last 7 days")), ("30", N_("last 30 days")), ("90", N_("last 90 days")))


REPORT_COLUMNS = (
    Column("label", "Name"),
    Column("requests", "Requests", kind="num"),
    Column("cost_micros", "Spend", kind="money"),
    Column("input_tokens", "Input tokens", kind="num"),
    Column("output_tokens", "Output tokens", kind="num"),
    Column(
        "cache_writes",
        "Cache writes 5m/1h",
        lambda r: (
            f"{r['cache_write_tokens'] - r['cache_write_1h_tokens']} / {r['cache_write_1h_tokens']}"
        ),
        sortable=False,
    ),
    Column("error_rate", "Error rate", kind="num"),
    Column("refusal_rate", "Refusal rate", kind="num"),
    Column("avg_latency_ms", "Avg latency", kind="num"),
)


RECORDS = TableSpec(
    "usage-records",
    (
        Column("created_at", "When", "r.created_at", kind="when"),
        Column("member", "Member", "email"),
        Column("model", "Model", "r.model_requested"),
        Column("client", "Client", "r.client_family"),
        Column("status", "Status", "r.status"),
        Column(
            "tokens",
            "Tokens in/out",
            lambda x: f"{x['r'].input_tokens} / {x['r'].output_tokens}",
            kind="num",
        ),
        Column(
            "cache_writes",
            "Cache writes 5m/1h",
            lambda x: (
                f"{x['r'].cache_write_tokens - x['r'].cache_write_1h_tokens}"
                f" / {x['r'].cache_write_1h_tokens}"
            ),
            kind="num",
            sortable=False,
        ),
        Column("searches", "Searches", "r.web_search_calls", kind="num"),
        Column("cost", "Cost", "r.cost_micros", kind="money"),
        Column("latency", "Latency (ms)", "r.latency_ms", kind="num"),
        Column("why", "Why refused", "why", sortable=False),
        Column("request", "Request id", "r.request_id", sortable=False),
    ),
    empty=N_("No usage yet: create a key for a member and send a first request."),
    prefix="u",
    empty_link=("/console/users", N_("Create a key from a member's page")),
    hidden=("request",),
    css="condensed",
)
"""The admin's usage records: sorted, filtered and paged by the usage service in SQL."""

MY_RECORDS = TableSpec(
    "usage-records",
    tuple(c for c in RECORDS.columns if c.key != "member"),
    empty=N_("No usage yet: create a key under Keys and point your tool at Spectra."),
    prefix="u",
    empty_link=("/console/me/keys", N_("Create a key")),
    hidden=("request",),
    css="condensed",
)
"""A member's own usage records (the member portal), the same table without the member."""


def record_rows(records: Sequence[Any], emails: dict[Any, str]) -> list[dict[str, Any]]:
    """The records as table rows: each with its member's email and why it was refused."""
    return [
        {
            "r": r,
            "email": emails.get(r.user_id, ""),
            "why": explain_reason(r.refusal_reason, r.refusal_rule, r.refusal_message) or "",
        }
        for r in records
    ]


def report_table(request: Request, report: dict[str, Any], by: str, empty: str) -> Table:
    """The usage report by `by` as a table (the admin's usage page and a lead's team usage)."""
    columns = (Column("label", by.capitalize()), *REPORT_COLUMNS[1:])
    table = TableSpec("usage-report", columns, empty, prefix="r").build(request, report["items"])
    table.totals = {**report["totals"], "label": _("Total")} if report.get("totals") else None
    return table


def _days(text: str | None) -> int:
    try:
        return max(1, min(366, int(text or "30")))
    except ValueError:
        return 30


def parse_date(text: str | None) -> datetime | None:
    """A date (or date and time) from a form or query; UTC when no zone is given."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidError("Dates look like 2026-11-01.") from None
    return value if value.tzinfo else value.replace(tzinfo=reports.default_range(1)[0].tzinfo)


@router.get("/usage")
async def usage(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    days: str | None = None,
    by: str = "group",
    measure: str = "cost",
    user: str | None = None,
    group: str | None = None,
    model: str | None = None,
    client: str | None = None,
    status: str | None = None,
) -> Response:
    actor = viewer.actor
    by = by if by in DIMENSIONS else "group"
    measure = measure if measure in MEASURES else "cost"
    since, until = reports.default_range(_days(days))
    chart = await series_chart(
        session, actor, since=since, until=until, dimension=by, measure=measure
    )
    report = await reports.usage_report(session, actor, by=by, since=since, until=until, limit=50)
    adoption = await reports.adoption(session, actor, since=since, until=until)
    records = await usage_service.list_usage(
        session,
        actor,
        user_email=user or None,
        group_name=group or None,
        model=model or None,
        client=client or None,
        status=status or None,
        listing=RECORDS.query(request),
    )
    records_table = RECORDS.show(
        request, records, record_rows(records.items, records.extra.get("emails", {}))
    )
    report_json = report.as_json()
    table = report_table(
        request, report_json, by, "No usage in this range yet: create a key and send a request."
    )
    return (
        table.csv()
        or records_table.csv()
        or render(
            request,
            viewer,
            "usage/index.html",
            title=_("Usage and billing"),
            nav="Usage",
            chart=chart,
            report=report_json,
            report_table=table,
            adoption=adoption,
            records_table=records_table,
            dimensions=DIMENSIONS,
            measures=[(k, v[1]) for k, v in MEASURES.items()],
            ranges=RANGES,
            by=by,
            explain_reason=explain_reason,
        )
    )


@router.get("/usage/export")
async def export(
    viewer: AdminDep,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    format: str = "csv",
    user: str | None = None,
    model: str | None = None,
    client: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """The matching usage records, streamed (the same export as the API's)."""
    user_id = None
    if user:
        user_id = (await users_service.require_user(session, viewer.actor, email=user)).id
    filters = exports.authorize_export(
        viewer.actor,
        fmt=format,
        user_id=user_id,
        model=model or None,
        client=client or None,
        status=status or None,
        since=parse_date(since),
        until=parse_date(until),
    )

    async def body() -> AsyncIterator[str]:
        async with read_scope(runtime.db) as stream_session:
            async for chunk in exports.stream_records(stream_session, filters, fmt=format):
                yield chunk

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    headers = {"content-disposition": f'attachment; filename="usage.{format}"'}
    return StreamingResponse(body(), media_type=media, headers=headers)


PRICES = TableSpec(
    "prices",
    (
        Column("model", "Model"),
        Column("account", "Account"),
        Column("source", "Source"),
        Column("input", "Input", kind="num"),
        Column("output", "Output", kind="num"),
        Column("cache_read", "Cache read", kind="num"),
        Column("cache_write", "Cache write 5m", kind="num"),
        Column("cache_write_1h", "Cache write 1h", kind="num"),
        Column("web_search", "Web search / 1K", kind="num"),
        Column("effective_from", "From", kind="when"),
        Column("created_by", "By"),
    ),
    empty=N_(
        "No overrides: every model is charged at the genai-prices defaults (show them above), "
        "or set a price below."
    ),
)
"""Prices in force: the usage service answers the whole list, so the table sorts it in memory."""


@router.get("/prices")
async def prices(
    request: Request, viewer: AdminDep, session: ReadSessionDep, defaults: bool = False
) -> Response:
    items = await usage_service.list_prices(session, viewer.actor, include_defaults=defaults)
    table = PRICES.build(request, items)
    return table.csv() or render(
        request, viewer, "usage/prices.html", title=_("Prices"), nav="Usage", table=table
    )


@router.post("/prices")
async def set_price(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    await usage_service.set_price(
        session,
        viewer.actor,
        model=form["model"],
        input=form["input"],
        output=form["output"],
        cache_read=form.get("cache_read"),
        cache_write=form.get("cache_write"),
        effective_from=parse_date(form.get("effective_from")),
        cache_write_1h=form.get("cache_write_1h"),
        web_search=form.get("web_search"),
        account=form.get("account") or None,
    )
    on = f" on {form['account']}" if form.get("account") else ""
    return redirect(
        "/console/prices", ok=_("Price for %(form)s%(on)s is set.", form=form["model"], on=on)
    )
