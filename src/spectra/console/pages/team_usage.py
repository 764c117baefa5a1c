"""A team lead's usage view of one group they lead: spend per day, the report by member, model,
client or key, adoption by client, and the report as a CSV download. The same report service
as /api/usage/report, narrowed to the group (`spectra.usage.reports.report_groups`), so a lead
never sees another group's spend or members; admins may open it for any group.

URLs: GET /console/team/{name}/usage (`?format=csv` downloads the report)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from spectra.console.charts import MEASURES, series_chart
from spectra.console.deps import ReadSessionDep, ViewerDep, refusals_as_pages
from spectra.console.i18n import _
from spectra.console.render import render
from spectra.usage import exports, reports
from spectra.users import service as users_service

from .usage import RANGES, _days, report_table

router = APIRouter(dependencies=[Depends(refusals_as_pages)])

TEAM_DIMENSIONS = ("user", "model", "client", "key")


@router.get("/team/{name}/usage")
async def team_usage(
    name: str,
    request: Request,
    viewer: ViewerDep,
    session: ReadSessionDep,
    days: str | None = None,
    by: str = "user",
    measure: str = "cost",
    format: str = "html",
) -> Response:
    actor = viewer.actor
    group = await users_service.group_for(session, actor, group=name)
    if format != "html":
        exports.check_format(format)  # csv or jsonl: a download of the report
    by = by if by in TEAM_DIMENSIONS else "user"
    since, until = reports.default_range(_days(days))
    report = await reports.usage_report(
        session, actor, by=by, since=since, until=until, group=group.id
    )
    if format != "html":
        filename = f"usage-{group.name}-by-{by}.{format}"
        return StreamingResponse(
            exports.stream_rows(report.as_json()["items"], format, exports.REPORT_COLUMNS),
            media_type="text/csv" if format == "csv" else "application/x-ndjson",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    measure = measure if measure in MEASURES else "cost"
    chart = await series_chart(
        session, actor, since=since, until=until, dimension=by, measure=measure, group=group.name
    )
    adoption = await reports.adoption(session, actor, since=since, until=until, group=group.id)
    report_json = report.as_json()
    table = report_table(
        request, report_json, by, "No usage in this range yet: invite a member to create a key."
    )
    return table.csv() or render(
        request,
        viewer,
        "team/usage.html",
        title=_("Usage of %(name)s", name=group.name),
        nav="Team" if viewer.is_lead else "Groups",
        group=group,
        chart=chart,
        report=report_json,
        report_table=table,
        adoption=adoption,
        dimensions=TEAM_DIMENSIONS,
        measures=[(k, v[1]) for k, v in MEASURES.items()],
        ranges=RANGES,
        by=by,
    )
