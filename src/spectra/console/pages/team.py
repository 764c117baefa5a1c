"""A team lead's console: the groups they lead, each with its members, leads, group wallet and
pending recharge requests; invite, suspend or reactivate a member, approve or reject a request
(paid from the group wallet, up to the lead's limit). Every action calls the same service
function as the API and the CLI, scoped to the lead there (`spectra.users.scope`).

URLs: /console/team, /console/team/{name} and its POST actions. Admins manage groups at
/console/groups (where the leads panel is)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from spectra.budgets import service as budgets_service
from spectra.console.deps import (
    ReadSessionDep,
    RuntimeDep,
    SessionDep,
    ViewerDep,
    refusals_as_pages,
)
from spectra.console.forms import Form
from spectra.console.i18n import N_, _
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.db.session import AnySession
from spectra.keys import service as keys_service
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.users import service as users_service
from spectra.users.models import Group
from spectra.users.permissions import Permission, require
from spectra.users.sessions import setup_path

from .team_members import EXTENSION_DAYS

router = APIRouter(dependencies=[Depends(refusals_as_pages)])


MEMBERS = TableSpec(
    "team-members",
    (
        Column("email", "Email"),
        Column("name", "Name"),
        Column("status", "Status"),
        Column("actions", "", kind="action"),
    ),
    empty=N_("No members yet: invite one above."),
    prefix="m",
)
"""The group's members (without the lead), sorted, filtered and paged by the users service."""


def _team_url(group: Group) -> str:
    return f"/console/team/{group.name}"


@router.get("/team")
async def teams(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    """The groups the viewer leads (straight to the one when there is one)."""
    if viewer.is_admin_viewer:
        return redirect("/console/groups")
    groups = await users_service.lead_groups_page(session, viewer.actor)
    if len(groups) == 1:
        return redirect(_team_url(groups[0]))
    return render(request, viewer, "team/list.html", title=_("My team"), nav="Team", groups=groups)


async def _page(
    request: Request,
    viewer: ViewerDep,
    session: AnySession,
    name: str,
    **extra: Any,
) -> Response:
    actor = viewer.actor
    group = await users_service.group_for(session, actor, group=name)
    members = await users_service.list_users(session, actor, group=group.id, limit=200)
    leads = await users_service.list_leads(session, actor, group=group.id)
    wallet = await ledger_service.get_wallet(session, actor, group_id=group.id)
    member_ids = {u.id for u in members.items}
    pending = await ledger_service.list_recharge_requests(
        session, actor, status="pending", limit=200
    )
    requests = [r for r in pending.items if r.user_id in member_ids and r.user_id != viewer.user_id]
    asked = await budgets_service.list_extensions(session, actor, status="pending", limit=200)
    extensions = [
        x
        for x in asked.items
        if x.key_id is not None
        and x.requested_by_id in member_ids
        and x.requested_by_id != viewer.user_id
    ]
    emails = {u.id: u.email for u in members.items}
    shown = await users_service.list_users(
        session,
        actor,
        group=group.id,
        excluding=[users_service.these_users(viewer.user_id)] if viewer.user_id else [],
        listing=MEMBERS.query(request),
    )
    table = MEMBERS.show(request, shown)
    if (answer := table.csv()) is not None:
        return answer
    mine = next((lead for lead in leads.items if lead.user_id == viewer.user_id), None)
    defaults = {g.id: p.name for g, p in await packages_service.list_group_defaults(session, actor)}
    return render(
        request,
        viewer,
        "team/show.html",
        title=_("Team %(name)s", name=group.name),
        nav="Team" if viewer.is_lead else "Groups",
        group=group,
        members_table=table,
        team_size=sum(1 for u in members.items if u.id != viewer.user_id),
        leads=leads.items,
        balance=wallet.balance_micros,
        requests=requests,
        emails=emails,
        my_limit=mine.approval_limit_micros if mine else None,
        default_package=defaults.get(group.id),
        extensions=extensions,
        extension_days=EXTENSION_DAYS,
        **extra,
    )


@router.get("/team/{name}")
async def team(name: str, request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    require(viewer.actor, Permission.SELF)
    return await _page(request, viewer, session, name)


@router.post("/team/{name}/invite")
async def invite(
    name: str, request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Invite a member into the group; the one-time set-up link is shown on the page once."""
    form = await Form.read(request)
    group = await users_service.group_for(session, viewer.actor, group=name)
    issued = await users_service.invite_user(
        session, viewer.actor, email=form["email"], name=form["name"], group=group.id
    )
    return await _page(
        request,
        viewer,
        session,
        name,
        invited=issued.user.email,
        link=runtime.settings.public_base() + setup_path(issued.token),
    )


@router.post("/team/{name}/members/{user_id}/suspend")
async def suspend(
    name: str, user_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    user = await users_service.suspend_user(
        session,
        viewer.actor,
        user=user_id,
        reason=form.get("reason") or "Suspended by the team lead.",
    )
    return redirect(f"/console/team/{name}", ok=_("%(email)s is suspended.", email=user.email))


@router.post("/team/{name}/members/{user_id}/reactivate")
async def reactivate(
    name: str, user_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    user = await users_service.reactivate_user(session, viewer.actor, user=user_id)
    return redirect(f"/console/team/{name}", ok=_("%(email)s is active again.", email=user.email))


@router.post("/team/{name}/requests/{request_id}/approve")
async def approve(
    name: str, request_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await ledger_service.approve_recharge_request(
        session, viewer.actor, request_id=request_id, note=form.get("note") or ""
    )
    return redirect(f"/console/team/{name}", ok=_("The request is approved."))


@router.post("/team/{name}/requests/{request_id}/reject")
async def reject(
    name: str, request_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    await ledger_service.reject_recharge_request(
        session, viewer.actor, request_id=request_id, note=form.get("note") or ""
    )
    return redirect(f"/console/team/{name}", ok=_("The request is rejected."))


@router.post("/team/{name}/members/{user_id}/key")
async def create_key(
    name: str, user_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    """A new key for a member (on their request); its secret is shown on the page once."""
    form = await Form.read(request)
    _key, secret = await keys_service.create_key(
        session, viewer.actor, user_id=user_id, name=form.get("name") or "from the team lead"
    )
    owner = await users_service.load_user(session, user_id)
    return await _page(request, viewer, session, name, key_for=owner.email, key_secret=secret)


@router.post("/team/{name}/members/{user_id}/package")
async def give_default_package(
    name: str, user_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Give a member the group's default package (the one package a lead hands out)."""
    group = await users_service.group_for(session, viewer.actor, group=name)
    rows = await packages_service.list_group_defaults(session, viewer.actor)
    package = next((p.name for g, p in rows if g.id == group.id), None)
    if package is None:
        return redirect(
            f"/console/team/{name}", error=_("%(name)s has no default package.", name=group.name)
        )
    detail = await packages_service.assign_package(
        session, viewer.actor, package=package, user_id=user_id
    )
    return redirect(
        f"/console/team/{name}",
        ok=_("%(email)s has %(package)s.", email=detail.email, package=package),
    )
