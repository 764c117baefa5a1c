"""Model fallback chains in the console: list, set and clear (admins with pool rights change them).

URLs: GET/POST /console/fallbacks, POST /console/fallbacks/clear. The same service functions as
`/api/fallbacks` and `spectra models fallbacks` (each writes its audit event).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.deps import AdminDep, ReadSessionDep, SessionDep
from spectra.console.forms import Form, problems
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.pool import fallbacks as fallbacks_service
from spectra.pool.fallbacks import MAX_CHAIN, FallbackSet

router = APIRouter()


@router.get("/fallbacks")
async def fallbacks(request: Request, viewer: AdminDep, session: ReadSessionDep) -> Response:
    chains = await fallbacks_service.list_fallbacks(session, viewer.actor)
    return render(
        request,
        viewer,
        "pool/fallbacks.html",
        title=_("Model fallbacks"),
        nav="Pool",
        chains=chains,
        max_chain=MAX_CHAIN,
    )


@router.post("/fallbacks")
async def set_fallbacks(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    try:
        data = FallbackSet(model=form["model"], chain=form.words("chain"), group=form.get("group"))
    except ValidationError as exc:
        return redirect(
            "/console/fallbacks",
            error=_("The chain was not set: %(problems)s", problems=problems(exc)),
        )
    chain = await fallbacks_service.set_fallbacks(session, viewer.actor, data=data)
    where = f" for group {chain.group}" if chain.group else ""
    return redirect(
        "/console/fallbacks",
        ok=_(
            "%(model)s%(where)s falls back to %(join)s.",
            model=chain.model,
            where=where,
            join=", ".join(chain.chain),
        ),
    )


@router.post("/fallbacks/clear")
async def clear_fallbacks(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    chain = await fallbacks_service.clear_fallbacks(
        session, viewer.actor, model=form["model"], group=form.get("group")
    )
    where = f" for group {chain.group}" if chain.group else ""
    return redirect(
        "/console/fallbacks",
        ok=_("Removed the fallback chain of %(model)s%(where)s.", model=chain.model, where=where),
    )
