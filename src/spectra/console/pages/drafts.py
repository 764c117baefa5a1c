"""Policy drafts: the list (by status), one draft with its changes and dry-run result, and the
dry-run / publish / discard actions (confirmed, CSRF-checked) through the same service functions
as /api/policy/drafts.

URLs: GET /console/policy/drafts, GET /console/policy/drafts/{draft_id},
POST /console/policy/drafts/{draft_id}/dry-run, POST /console/policy/drafts/{draft_id}/publish,
POST /console/policy/drafts/{draft_id}/discard.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form
from spectra.console.render import redirect, render
from spectra.policy import drafts as drafts_service

router = APIRouter()

STATUSES = ("draft", "published", "discarded")


@router.get("/policy/drafts")
async def list_drafts(
    request: Request,
    viewer: AdminDep,
    session: ReadSessionDep,
    status: str = "",
    cursor: str | None = None,
) -> Response:
    page = await drafts_service.list_drafts(
        session, viewer.actor, status=status or None, limit=50, cursor=cursor
    )
    return render(
        request,
        viewer,
        "drafts/list.html",
        title="Policy drafts",
        nav="Policy",
        drafts=[drafts_service.draft_view(d, full=False) for d in page.items],
        next_cursor=page.next_cursor,
        statuses=STATUSES,
        status=status,
    )


@router.get("/policy/drafts/{draft_id}")
async def show_draft(
    request: Request, viewer: AdminDep, session: ReadSessionDep, draft_id: uuid.UUID
) -> Response:
    draft = await drafts_service.get_draft(session, viewer.actor, draft_id=draft_id)
    return render(
        request,
        viewer,
        "drafts/show.html",
        title="Policy draft",
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
    return redirect(_back(draft_id), ok="The dry-run is done.")


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
    return redirect(_back(draft_id), ok="The draft is published.")


@router.post("/policy/drafts/{draft_id}/discard")
async def discard(
    request: Request, viewer: AdminDep, session: SessionDep, draft_id: uuid.UUID
) -> Response:
    await Form.read(request)
    await drafts_service.discard_draft(session, viewer.actor, draft_id=draft_id)
    return redirect(_back(draft_id), ok="The draft is discarded.")
