"""/scim/v2: Users and Groups for identity providers (Okta, Entra ID, ...), authenticated by a
SCIM token. Parse, call the users service (audited as the token's `scim:` actor), shape."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from . import groups, users
from .errors import (
    ScimNotFoundError,
    ScimRoute,
    scim_error,
)
from .http import PREFIX

router = APIRouter(prefix=PREFIX, route_class=ScimRoute, tags=["scim"])
router.include_router(users.router)
router.include_router(groups.router)


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown(path: str, request: Request) -> Response:
    """RFC 7644 §3.12: an unknown endpoint is a 404, a known one asked with another method a
    405, both in the SCIM error shape."""
    allowed = sorted(
        method
        for route in (*users.router.routes, *groups.router.routes)
        if isinstance(route, APIRoute) and route.path_regex.match("/" + path)
        for method in route.methods or ()
    )
    if allowed:
        answer = scim_error(
            405, f"{request.method} is not supported here; use {', '.join(allowed)}."
        )
        answer.headers["allow"] = ", ".join(allowed)
        return answer
    raise ScimNotFoundError(f"/scim/v2/{path[:100]} is not a SCIM endpoint of Spectra.")


def install(app: FastAPI) -> None:
    app.include_router(router)
