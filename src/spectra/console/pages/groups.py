"""Groups: list with member counts, create; the group page: members, group wallet, default
package, spend over the last 30 days, funding switches and budgets.

URLs: GET/POST /console/groups, GET /console/groups/{name}, POST /console/groups/{name}/edit,
POST /console/groups/{name}/default-package, POST /console/groups/{name}/funding.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.charts import series_chart
from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.pages.users import package_options
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.errors import SpectraError
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.policy import repository as policy_repository
from spectra.policy import service as policy_service
from spectra.usage import reports
from spectra.users import service as users_service

router = APIRouter()

GROUPS = TableSpec(
    "groups",
    (
        Column("name", "Group", "group.name"),
        Column("description", "Description", "group.description"),
        Column("members", "Members", kind="num"),
        Column("default", "Default package", sortable=False),
        Column("monthly_cap", "Monthly cap", "group.monthly_cap_micros", kind="money"),
        Column("member_cap", "Per-member cap", "group.member_monthly_cap_micros", kind="money"),
    ),
    empty=N_("No groups match: clear the filter, or create a group below."),
)
"""Groups, sorted, filtered and paged by the users service."""


async def _list(
    request: Request,
    viewer: Any,
    session: Any,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    page = await users_service.list_groups(session, viewer.actor, listing=GROUPS.query(request))
    counts = page.extra.get("member_counts", {})
    defaults = {
        g.id: p.name for g, p in await packages_service.list_group_defaults(session, viewer.actor)
    }
    rows = [
        {"group": g, "members": counts.get(g.id, 0), "default": defaults.get(g.id) or ""}
        for g in page.items
    ]
    table = GROUPS.show(request, page, rows)
    if (answer := table.csv()) is not None:
        return answer
    return render(
        request,
        viewer,
        "groups/list.html",
        title=_("Groups"),
        nav="Groups",
        table=table,
        errors=errors or {},
        values=values or {},
    )


@router.get("/groups")
async def list_groups(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
) -> Response:
    return await _list(request, viewer, session)


@router.post("/groups")
async def create_group(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    try:
        group = await users_service.create_group(
            session,
            viewer.actor,
            name=form["name"],
            description=form["description"],
            monthly_cap_micros=form.optional_amount("monthly_cap", label="Monthly cap"),
            member_monthly_cap_micros=form.optional_amount(
                "member_monthly_cap", label="Member monthly cap"
            ),
        )
    except SpectraError as exc:
        await session.rollback()
        return await _list(
            request,
            viewer,
            session,
            errors=field_errors(exc, default_field="name"),
            values=form.data,
        )
    return redirect(
        f"/console/groups/{group.name}", ok=_("Group %(name)s is created.", name=group.name)
    )


@router.get("/groups/{name}")
async def show_group(
    name: str,
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    cursor: str | None = None,
) -> Response:
    actor = viewer.actor
    group = await users_service.get_group(session, actor, group=name)
    members = await users_service.list_users(
        session, actor, group=group.id, limit=50, cursor=cursor
    )
    account = await ledger_service.get_wallet(session, actor, group_id=group.id)
    balance = account.balance_micros
    defaults = {g.id: p.name for g, p in await packages_service.list_group_defaults(session, actor)}
    policy = await policy_repository.get_group_policy(session, group.id)
    since, until = reports.default_range(30)
    chart = await series_chart(
        session, actor, since=since, until=until, dimension="group", value=str(group.id)
    )
    chart["datasets"][0]["label"] = "Spend per day"
    spend = sum(chart["datasets"][0]["data"])
    txns = await ledger_service.list_transactions(session, actor, group_id=group.id, limit=10)
    leads = await users_service.list_leads(session, actor, group=group.id)
    return render(
        request,
        viewer,
        "groups/show.html",
        title=_("Group %(name)s", name=group.name),
        nav="Groups",
        group=group,
        members=members.items,
        next_cursor=members.next_cursor,
        balance=balance,
        default_package=defaults.get(group.id),
        packages=await package_options(session, actor),
        wallet_fallback=policy.is_wallet_fallback if policy else True,
        group_wallet_fallback=policy.is_group_wallet_fallback if policy else True,
        chart=chart,
        spend=spend,
        transactions=txns.items,
        leads=leads.items,
    )


@router.post("/groups/{name}/edit")
async def edit_group(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    """`part=profile`: name and description; `part=budgets`: the caps (an empty cap removes it)."""
    form = await Form.read(request)
    if form["part"] == "budgets":
        group = await users_service.update_group(
            session,
            viewer.actor,
            group=name,
            monthly_cap_micros=form.optional_amount("monthly_cap", label="Monthly cap"),
            member_monthly_cap_micros=form.optional_amount(
                "member_monthly_cap", label="Member monthly cap"
            ),
        )
    else:
        group = await users_service.update_group(
            session,
            viewer.actor,
            group=name,
            name=form.get("name"),
            description=form.data.get("description"),
        )
    return redirect(f"/console/groups/{group.name}", ok=_("Saved."))


@router.post("/groups/{name}/default-package")
async def set_default_package(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    package = form.get("package")
    await packages_service.set_group_default_package(
        session, viewer.actor, group=name, package=package
    )
    message = f"New members of {name} get {package}." if package else "Default package cleared."
    return redirect(f"/console/groups/{name}", ok=message)


@router.post("/groups/{name}/funding")
async def set_funding(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await policy_service.set_group_funding(
        session,
        viewer.actor,
        group=name,
        wallet_fallback=form.flag("wallet_fallback"),
        group_wallet_fallback=form.flag("group_wallet_fallback"),
    )
    return redirect(f"/console/groups/{name}", ok=_("Funding switches saved."))


@router.post("/groups/{name}/leads")
async def set_lead(name: str, request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """Make a member of the group its lead (again: change their approval limit)."""
    form = await Form.read(request)
    limit = form.amount("approval_limit", label="approval limit", allow_zero=True)
    lead = await users_service.set_lead(
        session, viewer.actor, group=name, user=form["email"], approval_limit_micros=limit
    )
    return redirect(
        f"/console/groups/{name}",
        ok=_("%(email)s leads %(group)s.", email=lead.email, group=lead.group),
    )


@router.post("/groups/{name}/leads/remove")
async def remove_lead(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await users_service.remove_lead(session, viewer.actor, group=name, user=form["email"])
    return redirect(
        f"/console/groups/{name}",
        ok=_("%(form)s no longer leads %(name)s.", form=form["email"], name=name),
    )
