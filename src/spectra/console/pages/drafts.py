"""Policy drafts: the list (by status), one draft with its changes and dry-run result, and the
dry-run / publish / discard actions (confirmed, CSRF-checked) through the same service functions
as /api/policy/drafts.

URLs: GET /console/policy/drafts, POST /console/policy/drafts (a group's policy change, from the
group policy page, or a rollout cohort's promotion), GET /console/policy/drafts/{draft_id},
POST /console/policy/drafts/{draft_id}/dry-run, POST /console/policy/drafts/{draft_id}/publish,
POST /console/policy/drafts/{draft_id}/discard.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep, Viewer
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import N_, _
from spectra.console.pages.group_policy import SWITCHES, policy_change, render_group_policy
from spectra.console.pages.users import group_options
from spectra.console.render import redirect, render
from spectra.console.tables import Column, TableSpec
from spectra.db.session import ReadSession
from spectra.errors import ErrorKind, SpectraError
from spectra.policy import drafts as drafts_service
from spectra.policy import rollouts as rollouts_service
from spectra.policy import service as policy_service
from spectra.policy.errors import CohortNotFoundError

router = APIRouter()

STATUSES = ("draft", "published", "discarded")


DRAFTS = TableSpec(
    "drafts",
    (
        Column("target", "Target"),
        Column("kind", "Kind"),
        Column("status", "Status"),
        Column("dry_run_at", "Dry-run"),
        Column("created_at", "Created"),
        Column("by", "By", "created_by"),
    ),
    empty=N_("No drafts yet: open a group's policy above and save a change as a draft."),
)
"""Policy drafts, sorted, filtered and paged by the drafts service."""


async def _list(
    request: Request,
    viewer: Viewer,
    session: ReadSession,
    *,
    status: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page = await drafts_service.list_drafts(
        session, viewer.actor, status=status or None, listing=DRAFTS.query(request)
    )
    table = DRAFTS.show(
        request, page, [drafts_service.draft_view(d, full=False) for d in page.items]
    )
    if (answer := table.csv()) is not None:
        return answer
    rollouts = await rollouts_service.list_rollouts(session, viewer.actor, limit=100)
    return render(
        request,
        viewer,
        "drafts/list.html",
        status_code=status_code,
        title=_("Policy drafts"),
        nav="Policy",
        table=table,
        statuses=STATUSES,
        status=status,
        rollouts=[r.name for r in rollouts.items if r.status == "active"],
        groups=await group_options(session, viewer.actor),
        errors=errors or {},
        values=values or {},
    )


@router.get("/policy/drafts")
async def list_drafts(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    status: str = "",
) -> Response:
    return await _list(request, viewer, session, status=status)


@router.post("/policy/drafts")
async def create_draft(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    """Draft a group's policy change (`group` + the policy form; only the fields that differ from
    the current policy) or a cohort's promotion (`rollout`, `cohort`: the next one when blank).
    Errors re-render the form they came from with the sentence next to the field."""
    form = await Form.read(request)
    group = form.get("group")
    try:
        if group is not None:
            current = await policy_service.get_group_policy(session, viewer.actor, group=group)
            draft = await drafts_service.create_draft(
                session, viewer.actor, group=group, change=policy_change(form, current)
            )
        else:
            draft = await drafts_service.create_draft(
                session,
                viewer.actor,
                rollout=form.get("rollout") or "",
                cohort=form.get("cohort"),
            )
    except (SpectraError, ValidationError) as exc:
        if isinstance(exc, SpectraError) and (
            exc.kind == ErrorKind.FORBIDDEN
            or (group is not None and exc.kind == ErrorKind.NOT_FOUND)
        ):
            raise
        await session.rollback()
        errors = field_errors(exc, default_field="_form" if group is not None else "rollout")
        if isinstance(exc, CohortNotFoundError):
            errors = {"cohort": exc.message}
        if group is not None:
            values: dict[str, Any] = {
                **form.data,
                "allowed_clients": form.all("allowed_clients"),
                **{name: form.flag(name) for name in SWITCHES},
            }
            return await render_group_policy(
                request,
                viewer,
                ReadSession(session),
                group=group,
                errors=errors,
                values=values,
                status_code=422,
            )
        return await _list(
            request, viewer, ReadSession(session), errors=errors, values=form.data, status_code=422
        )
    return redirect(_back(draft.id), ok=_("The draft is saved; dry-run it, then publish."))


@router.get("/policy/drafts/{draft_id}")
async def show_draft(
    request: Request, viewer: AdminDep, session: ReadSessionDep, draft_id: uuid.UUID
) -> Response:
    draft = await drafts_service.get_draft(session, viewer.actor, draft_id=draft_id)
    return render(
        request,
        viewer,
        "drafts/show.html",
        title=_("Policy draft"),
        nav="Policy",
        draft=drafts_service.draft_view(draft),
    )


def _back(draft_id: uuid.UUID) -> str:
    return f"/console/policy/drafts/{draft_id}"


@router.post("/policy/drafts/{draft_id}/dry-run")
async def dry_run(
    request: Request, viewer: AdminDep, session: SessionDep, draft_id: uuid.UUID
) -> Response:
    form = await Form.read(request)
    days = form.integer("days", 7, label="Days")
    await drafts_service.dry_run(session, viewer.actor, draft_id=draft_id, days=days)
    return redirect(_back(draft_id), ok=_("The dry-run is done."))


@router.post("/policy/drafts/{draft_id}/publish")
async def publish(
    request: Request, viewer: AdminDep, session: SessionDep, draft_id: uuid.UUID
) -> Response:
    form = await Form.read(request)
    await drafts_service.publish_draft(
        session,
        viewer.actor,
        draft_id=draft_id,
        confirm_without_dry_run=form.flag("confirm_without_dry_run"),
    )
    return redirect(_back(draft_id), ok=_("The draft is published."))


@router.post("/policy/drafts/{draft_id}/discard")
async def discard(
    request: Request, viewer: AdminDep, session: SessionDep, draft_id: uuid.UUID
) -> Response:
    await Form.read(request)
    await drafts_service.discard_draft(session, viewer.actor, draft_id=draft_id)
    return redirect(_back(draft_id), ok=_("The draft is discarded."))
