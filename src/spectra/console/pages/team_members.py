"""A team lead's actions on one member's credentials and packages, and on budget extension
requests: the member page (their keys with a revoke button, their package assignments with a
cancel button), and approving or rejecting a member's budget extension. Each calls the same
service function as the API and the CLI, which scopes the lead to the groups they lead (a
member of another group: the role's refusal, 403 `permission_denied`).

URLs: GET /console/team/{name}/members/{user_id}; POST /console/team/{name}/keys/{key_id}/revoke,
/console/team/{name}/assignments/{assignment_id}/cancel,
/console/team/{name}/extensions/{extension_id}/approve|reject."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from spectra.budgets import service as budgets_service
from spectra.console.deps import ReadSessionDep, SessionDep, ViewerDep, refusals_as_pages
from spectra.console.forms import Form
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.keys import service as keys_service
from spectra.kit.clock import utc_now
from spectra.packages import service as packages_service
from spectra.users import service as users_service

from .budgets import _when

router = APIRouter(dependencies=[Depends(refusals_as_pages)])

EXTENSION_DAYS = 7
"""How long an extension a lead approves from the team page lasts unless they give an expiry."""


@router.get("/team/{name}/members/{user_id}")
async def member(
    name: str, user_id: uuid.UUID, request: Request, viewer: ViewerDep, session: ReadSessionDep
) -> Response:
    """One member's keys and package assignments, for their lead (or an admin)."""
    actor = viewer.actor
    group = await users_service.group_for(session, actor, group=name)
    keys = await keys_service.list_keys(session, actor, user_id=user_id, limit=200)
    assignments = await packages_service.list_assignments(
        session, actor, user_id=user_id, limit=200
    )
    user = await users_service.get_user(session, actor, user=user_id)
    return render(
        request,
        viewer,
        "team/member.html",
        title=_("%(email)s in %(name)s", email=user.email, name=group.name),
        nav="Team" if viewer.is_lead else "Groups",
        group=group,
        member=user,
        keys=keys.items,
        assignments=assignments.items,
    )


@router.post("/team/{name}/keys/{key_id}/revoke")
async def revoke_key(
    name: str, key_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    key = await keys_service.revoke_key(
        session, viewer.actor, key_id=key_id, reason=form.get("reason") or "Revoked by the lead."
    )
    return redirect(
        f"/console/team/{name}/members/{key.user_id}",
        ok=_("Key %(prefix)s is revoked.", prefix=key.prefix),
    )


@router.post("/team/{name}/assignments/{assignment_id}/cancel")
async def cancel_assignment(
    name: str, assignment_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    detail = await packages_service.cancel_assignment(
        session,
        viewer.actor,
        assignment_id=assignment_id,
        when="period_end" if form.get("when") == "period_end" else "now",
        reason=form.get("reason") or "Cancelled by the team lead.",
    )
    return redirect(
        f"/console/team/{name}/members/{detail.assignment.user_id}",
        ok=_(
            "%(package_name)s of %(email)s is cancelled.",
            package_name=detail.package_name,
            email=detail.email,
        ),
    )


@router.post("/team/{name}/extensions/{extension_id}/approve")
async def approve_extension(
    name: str, extension_id: uuid.UUID, request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    until = _when(form.get("expires_at")) or utc_now() + timedelta(days=EXTENSION_DAYS)
    row = await budgets_service.decide_extension(
        session, viewer.actor, extension_id=extension_id, approve=True, expires_at=until
    )
    return redirect(
        f"/console/team/{name}",
        ok=_(
            "Approved until %(expires_at)s UTC.",
            expires_at=format(row.expires_at, "%Y-%m-%d %H:%M"),
        ),
    )


@router.post("/team/{name}/extensions/{extension_id}/reject")
async def reject_extension(
    name: str, extension_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    await budgets_service.decide_extension(
        session, viewer.actor, extension_id=extension_id, approve=False
    )
    return redirect(f"/console/team/{name}", ok=_("The extension request is rejected."))
