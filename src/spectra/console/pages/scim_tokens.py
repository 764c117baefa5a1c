"""SCIM tokens in the console: an owner or admin creates one from their tokens page; its secret
is shown on the result page only (listed and revoked with the other tokens afterwards).

URL: POST /console/me/tokens/scim (the same service function as `POST /api/tokens/scim`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from spectra.console.deps import AdminDep, SessionDep, require_recent_auth
from spectra.console.forms import Form, problems
from spectra.console.i18n import _
from spectra.console.render import redirect
from spectra.keys import scim as keys_scim
from spectra.keys.schemas import ScimTokenCreate

from .me import expiry
from .me_tokens import token_created

router = APIRouter()


@router.post("/me/tokens/scim")
async def create_scim_token(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    await require_recent_auth(session, viewer)
    form = await Form.read(request)
    try:
        data = ScimTokenCreate(name=form["name"], expires_at=expiry(form.get("expires_at")))
    except ValidationError as exc:
        return redirect(
            "/console/me/tokens",
            error=_("The SCIM token was not created: %(problems)s", problems=problems(exc)),
        )
    token, secret = await keys_scim.create_scim_token(
        session, viewer.actor, name=data.name, expires_at=data.expires_at
    )
    return await token_created(request, viewer, session, token, secret)
