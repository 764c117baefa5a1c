"""The console's one error map: a flash message and a redirect back (or an error page)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from spectra.errors import ErrorKind, SpectraError


def render_error(request: Request, exc: SpectraError) -> Response:
    if exc.kind == ErrorKind.UNAUTHENTICATED:
        return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        back = request.headers.get("referer") or "/console/"
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(
            "spectra_flash",
            quote(f"error|{exc.message}"),
            max_age=30,
            httponly=True,
            samesite="lax",
        )
        return response
    status = (
        404 if exc.kind == ErrorKind.NOT_FOUND else 403 if exc.kind == ErrorKind.FORBIDDEN else 400
    )
    return HTMLResponse(
        f"<!doctype html><title>Spectra</title><p role=alert>{_escape(exc.message)}</p>",
        status_code=status,
    )


def render_validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {"msg": "invalid input"}
    return render_error(request, SpectraError(str(first.get("msg", "invalid input"))))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
