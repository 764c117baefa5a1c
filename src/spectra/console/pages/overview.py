"""The overview: a lead's morning questions at a glance. Spend today and this month against the
groups' caps with the forecast to the month's end (a burn-down chart), spend per day by model
(stacked area), the top members and models (bars), pool health by state with reasons and each
account's last 24 hours (sparklines), active members, refusals in the last hour by reason, and
alerts (failing accounts, low balances, pending approvals and recharge requests). All from the
usage reports, the pool and the ledger services. Members land on their portal instead.

URL: GET /console/.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console import charts
from spectra.console.deps import ReadSessionDep, ViewerDep
from spectra.console.i18n import _
from spectra.console.refusals import explain_reason
from spectra.console.render import redirect, render
from spectra.kit.clock import utc_now
from spectra.ledger import service as ledger_service
from spectra.pool import service as pool_service
from spectra.usage import reports, rollups
from spectra.usage import service as usage_service
from spectra.users import service as users_service

router = APIRouter()


@router.get("/")
async def overview(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    if not viewer.is_admin_viewer:
        return redirect("/console/me")
    actor = viewer.actor
    now = utc_now()
    accounts = await pool_service.list_accounts(session, actor, limit=500)
    by_state: dict[str, list[Any]] = {}
    for account in accounts.items:
        by_state.setdefault(account.state, []).append(account)
    alerts = await pool_service.list_alerts(session, actor, limit=20, open_only=True)

    today = rollups.day_of(now)
    month_start = today.replace(day=1)
    end = today + timedelta(days=1)
    spend_today = await reports.usage_report(session, actor, by="group", since=today, until=end)
    spend_month = await reports.usage_report(
        session, actor, by="group", since=month_start, until=end
    )
    active = await reports.usage_report(
        session, actor, by="user", since=today - timedelta(days=6), until=end
    )
    groups = await users_service.list_groups(session, actor, limit=100)
    month_by_group = {row.key: row.measures["cost_micros"] for row in spend_month.rows}
    budgets = [
        {
            "group": g,
            "spent": month_by_group.get(str(g.id), 0),
            "cap": g.monthly_cap_micros,
            "share": None
            if not g.monthly_cap_micros
            else min(100, round(100 * month_by_group.get(str(g.id), 0) / g.monthly_cap_micros)),
        }
        for g in groups.items
        if g.monthly_cap_micros or month_by_group.get(str(g.id))
    ]
    refused = await usage_service.list_usage(
        session, actor, status="refused", since=now - timedelta(hours=1), limit=500
    )
    refusal_counts = Counter(r.refusal_reason or "unknown" for r in refused.items)
    approvals = await ledger_service.list_approvals(session, actor, status="pending", limit=50)
    requests = await ledger_service.list_recharge_requests(
        session, actor, status="pending", limit=50
    )
    notices = await ledger_service.list_notices(session, actor, limit=10)
    caps = [g.monthly_cap_micros for g in groups.items if g.monthly_cap_micros]
    budget = sum(caps) if caps else None
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    burn = await charts.budget_burn(
        session,
        actor,
        month_start=month_start,
        month_end=month_end,
        today=today,
        budget_micros=budget,
    )
    area = charts.as_area(
        await charts.series_chart(
            session, actor, since=today - timedelta(days=13), until=end, dimension="model", top=5
        )
    )
    hour = rollups.hour_of(now) + timedelta(hours=1)
    sparklines = [
        {
            "account": account,
            "chart": await charts.account_sparkline(
                session,
                actor,
                account_id=str(account.id),
                since=hour - timedelta(hours=24),
                until=hour,
            ),
        }
        for account in accounts.items[:30]
    ]
    return render(
        request,
        viewer,
        "overview.html",
        title=_("Overview"),
        nav="Overview",
        accounts_total=len(accounts.items),
        by_state=sorted(by_state.items()),
        alerts=alerts.items,
        spend_today=spend_today.totals.measures["cost_micros"],
        spend_month=spend_month.totals.measures["cost_micros"],
        active_members=len([r for r in active.rows if r.measures["requests"]]),
        budgets=budgets,
        refusals=[
            {"reason": reason, "count": count, "why": explain_reason(reason)}
            for reason, count in refusal_counts.most_common()
        ],
        refusals_more=refused.next_cursor is not None,
        approvals=len(approvals.items),
        requests=len(requests.items),
        notices=notices.items,
        budget=budget,
        projected=burn["projected_micros"],
        chart=burn,
        area=area,
        top_members=await charts.top_bars(session, actor, by="user", since=month_start, until=end),
        top_models=await charts.top_bars(session, actor, by="model", since=month_start, until=end),
        sparklines=sparklines,
    )
