"""Billing reports: a member's or a group's statement for a period, spend forecasts (burn rate,
projected month spend against budgets, runway), pool economics per account and model, and the
monthly reconciliation of what members were charged against what the pool cost. Read-only; the
same service functions as /api/statements and /api/usage/{forecast,economics,reconcile}.

URLs: GET /console/usage/statements, GET /console/usage/forecast, GET /console/usage/economics,
GET /console/usage/reconcile.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep
from spectra.console.i18n import _
from spectra.console.render import render
from spectra.usage import economics, forecasts, statements

router = APIRouter()


@router.get("/usage/statements")
async def statement(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    user: str = "",
    group: str = "",
    since: str = "",
    until: str = "",
    by: str = "",
) -> Response:
    """The form; with a user or a group named, their statement for the period (with
    `by=project`, also its usage per project)."""
    data = None
    if user.strip() or group.strip():
        who_user, who_group = await statements.resolve_subject(
            session, viewer.actor, user_email=user.strip() or None, group_name=group.strip() or None
        )
        start, end = await statements.resolve_period(
            session, since=since.strip() or None, until=until.strip() or None
        )
        built = await statements.build_statement(
            session,
            viewer.actor,
            user_id=who_user,
            group_id=who_group,
            since=start,
            until=end,
            by=by.strip() or None,
        )
        data = built.as_json()
    return render(
        request,
        viewer,
        "reports/statement.html",
        title=_("Statements"),
        nav="Usage",
        statement=data,
    )


@router.get("/usage/forecast")
async def forecast(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    user: str = "",
    group: str = "",
    window_days: int = 7,
    by: str = "",
) -> Response:
    user_id = group_id = None
    if user.strip() or group.strip():
        user_id, group_id = await statements.resolve_subject(
            session, viewer.actor, user_email=user.strip() or None, group_name=group.strip() or None
        )
    data = await forecasts.forecast(
        session,
        viewer.actor,
        user_id=user_id,
        group_id=group_id,
        window_days=window_days,
        by=by.strip() or None,
    )
    return _report(
        request, viewer, "forecast", "Forecast", data, columns=forecasts.FORECAST_COLUMNS
    )


@router.get("/usage/economics")
async def pool_economics(
    request: Request, viewer: AdminDep, session: ReadSessionDep, since: str = "", until: str = ""
) -> Response:
    start, end = await statements.resolve_period(
        session, since=since.strip() or None, until=until.strip() or None
    )
    data = await economics.pool_economics(session, viewer.actor, since=start, until=end)
    return _report(
        request,
        viewer,
        "economics",
        "Pool economics",
        data,
        columns=economics.ECONOMICS_COLUMNS,
        account_columns=economics.ACCOUNT_COLUMNS,
    )


@router.get("/usage/reconcile")
async def reconcile(
    request: Request, viewer: AdminDep, session: ReadSessionDep, since: str = "", until: str = ""
) -> Response:
    start, end = await statements.resolve_period(
        session, since=since.strip() or None, until=until.strip() or None, to_current_month=True
    )
    data = await economics.reconcile(session, viewer.actor, since=start, until=end)
    return _report(
        request, viewer, "reconcile", "Reconciliation", data, columns=economics.RECONCILE_COLUMNS
    )


def _report(
    request: Request, viewer: Any, name: str, title: str, data: Any, **context: Any
) -> Response:
    """A billing report page under Usage: reports/<name>.html with its data and columns."""
    return render(
        request, viewer, f"reports/{name}.html", title=title, nav="Usage", data=data, **context
    )
