"""Single sign-on in the console: the redirect to a provider and its callback.

URLs: GET /console/sso/{name}/start?next=..., GET /console/sso/{name}/callback.
A refused callback renders one clear page (status 400) and never opens a session.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import ReadSessionDep, RuntimeDep, SessionDep, client_ip
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.errors import SpectraError
from spectra.users.sso import service as sso_service
from spectra.users.sso import signin as sso_signin
from spectra.web.signin import note_device, session_ttl

from .auth import _safe_next, landing, set_console_session

router = APIRouter()


def redirect_uri(runtime: RuntimeDep, name: str) -> str:
    """What to register at the provider: <public URL>/console/sso/<name>/callback."""
    return f"{runtime.settings.public_base()}/console/sso/{quote(name, safe='')}/callback"


async def provider_names(session: ReadSessionDep) -> list[str]:
    return await sso_service.sign_in_choices(session)


def _refused(request: Request, message: str) -> Response:
    response = render(
        request,
        None,
        "auth/sso_refused.html",
        status_code=400,
        title=_("Sign-in refused"),
        message=message,
    )
    response.delete_cookie(sso_signin.STATE_COOKIE, path="/console/sso")
    return response


@router.get("/sso/{name}/start")
async def start(
    request: Request,
    name: str,
    session: SessionDep,
    runtime: RuntimeDep,
    next: str | None = None,
    reauth: bool = False,
) -> Response:
    """`reauth=1` is the step-up of an SSO session: the provider asks for the login again."""
    try:
        began = await sso_signin.begin_sign_in(
            session,
            provider_name=name,
            redirect_uri=redirect_uri(runtime, name),
            next_path=_safe_next(next),
            reauth=reauth,
        )
    except SpectraError as exc:
        await session.rollback()
        return _refused(request, exc.message)
    response = redirect(began.url)
    response.set_cookie(
        sso_signin.STATE_COOKIE,
        began.state,
        max_age=int(sso_signin.LOGIN_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/console/sso",
    )
    return response


@router.get("/sso/{name}/callback")
async def callback(
    request: Request, name: str, session: SessionDep, runtime: RuntimeDep
) -> Response:
    params = request.query_params
    state = params.get("state", "")
    try:
        login = await sso_signin.claim_login(
            session,
            provider_name=name,
            state=state,
            browser_state=request.cookies.get(sso_signin.STATE_COOKIE),
        )
    except SpectraError as exc:
        await session.rollback()
        return _refused(request, exc.message)
    # Spent for good before anything else can fail: a replayed callback finds it used.
    await session.commit()
    if "error" in params:
        detail = params.get("error_description") or params["error"]
        return _refused(request, f"The provider did not sign you in: {detail[:300]}.")
    try:
        opened = await sso_signin.complete_sign_in(
            session,
            login=login,
            state=state,
            code=params.get("code", ""),
            redirect_uri=redirect_uri(runtime, name),
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            default_ttl=session_ttl(runtime),
        )
    except SpectraError as exc:
        await session.rollback()
        return _refused(request, exc.message)
    response = redirect(landing(opened.user.role, login.next_path))
    set_console_session(response, request, runtime, opened)
    await note_device(request, response, session, runtime, opened.user)
    response.delete_cookie(sso_signin.STATE_COOKIE, path="/console/sso")
    return response
