"""Workspace settings (currency, time zone, thresholds, limits): every signed-in admin reads
them; only an owner changes one.

URLs: GET /console/settings, POST /console/settings/{name}.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.workspace import service as workspace_service

router = APIRouter()


@router.get("/settings")
async def settings(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    items = await workspace_service.list_settings(session, viewer.actor)
    return render(
        request, viewer, "settings/index.html", title=_("Settings"), nav="Settings", items=items
    )


@router.post("/settings/{name}")
async def set_setting(
    name: str, request: Request, viewer: AdminDep, session: SessionDep
) -> Response:
    form = await Form.read(request)
    read = await workspace_service.set_setting(
        session, viewer.actor, name=name, value=form["value"]
    )
    return redirect(
        "/console/settings", ok=_("%(name)s is now %(value)s.", name=read.name, value=read.value)
    )
