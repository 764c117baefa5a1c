"""The console's one error map.

- not signed in (or session ended/expired): the sign-in page, remembering where you were going;
- a refused CSRF check: a 403 page (nothing changed);
- a refused action (`permission_denied`) on a router with `refusals_as_pages` (the team
  pages): the 403 error page with its code;
- any other failure of a form post: back to the form's page with the service's sentence as a
  flash message (pages that show the error next to the field catch it themselves);
- an htmx request: a small alert fragment (status 200, so htmx swaps it in);
- a failed page view: an error page with the status (404, 403, 400).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from spectra.console.deps import SAFE_METHODS, Viewer
from spectra.console.i18n import _
from spectra.console.render import back_url, redirect, render
from spectra.errors import ErrorKind, SpectraError
from spectra.users.errors import CsrfError
from spectra.users.mfa.errors import (
    EnrolmentRequiredError,
    SecondFactorRequiredError,
    StepUpRequiredError,
)

_STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.UPSTREAM: 502,
}


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _second_factor(request: Request, exc: SpectraError) -> Response | None:
    """The second-factor refusals: finish signing in, enrol first, or confirm it is you."""
    hx = bool(request.headers.get("hx-request"))
    target = None
    if isinstance(exc, SecondFactorRequiredError):
        target = "/console/login/second-factor"
    elif isinstance(exc, EnrolmentRequiredError):
        target = "/console/account/mfa"
    if target is not None:
        if hx:
            response = Response(status_code=200)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target, error=exc.message if target.endswith("mfa") else None)
    if isinstance(exc, StepUpRequiredError) and not hx:
        viewer: Viewer | None = request.scope.get("state", {}).get("viewer")
        return render(
            request,
            viewer,
            "auth/step_up.html",
            status_code=403,
            title=_("Confirm it is you"),
            message=exc.message,
            next=back_url(request),
        )
    return None


def render_error(request: Request, exc: SpectraError) -> Response:
    special = _second_factor(request, exc)
    if special is not None:
        return special
    if exc.kind == ErrorKind.UNAUTHENTICATED:
        if request.headers.get("hx-request"):
            response = Response(status_code=200)
            response.headers["HX-Redirect"] = "/console/login"
            return response
        target = request.url.path
        if request.url.query and request.method in SAFE_METHODS:
            target += "?" + request.url.query
        return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)
    if request.headers.get("hx-request"):
        return HTMLResponse(
            f'<p class="flash error" role="alert">{_escape(exc.message)}</p>', status_code=200
        )
    viewer: Viewer | None = request.scope.get("state", {}).get("viewer")
    if isinstance(exc, CsrfError):
        return render(request, viewer, "error.html", status_code=403, message=exc.message)
    if request.method not in SAFE_METHODS and not _refusal_page(request, exc):
        return redirect(back_url(request), error=exc.message)
    status = _STATUS.get(exc.kind, 400)
    return render(
        request, viewer, "error.html", status_code=status, message=exc.message, code=exc.code
    )


def _refusal_page(request: Request, exc: SpectraError) -> bool:
    """A refused action on routes that ask for it (`refusals_as_pages`): the 403 page with the
    stable code instead of a flash on the page the form came from."""
    return exc.code == "permission_denied" and bool(
        getattr(request.state, "refusals_as_pages", False)
    )


def render_validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:])
    message = str(first.get("msg", "The input is not valid."))
    if where:
        message = f"{where}: {message}"
    return render_error(request, SpectraError(message))
