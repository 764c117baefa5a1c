"""A member's API tokens (for the CLI and scripts): list, create (after a recent sign-in; the
secret shown once), revoke. Admins' SCIM tokens reuse the created page (pages/scim_tokens.py).

URLs: GET/POST /console/me/tokens, POST /console/me/tokens/{id}/revoke.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import ReadSessionDep, SessionDep, ViewerDep, require_recent_auth
from spectra.console.forms import Form
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.keys import service as keys_service

from .me import expiry

router = APIRouter(prefix="/me")


@router.get("/tokens")
async def tokens(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, cursor: str | None = None
) -> Response:
    return await token_created(request, viewer, session, None, None, cursor=cursor)


@router.post("/tokens")
async def create_token(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    await require_recent_auth(session, viewer)
    form = await Form.read(request)
    token, secret = await keys_service.create_token(
        session,
        viewer.actor,
        user_id=viewer.user_id,
        name=form["name"],
        read_only=form.flag("read_only"),
        expires_at=expiry(form.get("expires_at")),
    )
    return await token_created(request, viewer, session, token, secret)


async def token_created(
    request: Request,
    viewer: Any,
    session: Any,
    token: Any,
    secret: str | None,
    cursor: str | None = None,
) -> Response:
    """The tokens page; after a create, with the new token's secret, shown this once (never
    stored in clear)."""
    page = await keys_service.list_tokens(
        session, viewer.actor, user_id=viewer.user_id, limit=50, cursor=cursor
    )
    return render(
        request,
        viewer,
        "me/tokens.html",
        title=_("My API tokens"),
        nav="Me",
        tokens=page.items,
        next_cursor=page.next_cursor,
        secret=secret,
        created=token,
    )


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: uuid.UUID, viewer: ViewerDep, session: SessionDep) -> Response:
    await keys_service.revoke_token(session, viewer.actor, token_id=token_id)
    return redirect("/console/me/tokens", ok=_("The token is revoked."))
