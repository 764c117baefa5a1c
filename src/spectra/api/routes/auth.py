"""/api/auth: console sign-in (a session cookie), sign-out, and password setup through a
one-time link. Sign-in is rate limited per email and per client IP."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from spectra.api.deps import RuntimeDep, SessionDep, client_ip
from spectra.users import service as users_service
from spectra.users.errors import CsrfError
from spectra.users.mfa.errors import SecondFactorRequiredError
from spectra.users.schemas import LoginIn, SetupIn, SignInRead, UserRead
from spectra.users.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_matches

router = APIRouter(prefix="/auth", tags=["auth"])


def _secure(request: Request, runtime: RuntimeDep) -> bool:
    configured = runtime.settings.cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


@router.post("/login")
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, runtime: RuntimeDep
) -> SignInRead:
    """Sign in with email and password: sets the HttpOnly session cookie and answers with the
    CSRF token to send as `x-csrf-token` on state-changing requests. An account with a second
    factor is refused here (401 `second_factor_required`): it signs in through the console."""
    opened = await users_service.sign_in(
        session,
        email=body.email,
        password=body.password,
        client_ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        ttl=timedelta(hours=max(1, runtime.settings.session_ttl_hours)),
    )
    if opened.row.second_factor_pending:
        # The second step exists in the console only; the pending session rolls back with this.
        raise SecondFactorRequiredError(
            "This account has a second factor: sign in through the console, or call the API "
            "with an API token."
        )
    secure = _secure(request, runtime)
    max_age = int((opened.expires_at - opened.row.created_at).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        opened.csrf_token,
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.headers["cache-control"] = "no-store"
    return SignInRead(
        user=UserRead.model_validate(opened.user),
        csrf_token=opened.csrf_token,
        expires_at=opened.expires_at,
    )


@router.post("/logout", status_code=204)
async def logout(request: Request, session: SessionDep) -> Response:
    """Sign out: ends the session behind the cookie (needs the CSRF token) and clears the cookies."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if not csrf_matches(token, request.headers.get(CSRF_HEADER)):
            raise CsrfError(f"Signing out needs the {CSRF_HEADER} header from sign-in.")
        await users_service.end_session(session, token=token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/setup")
async def setup_password(body: SetupIn, request: Request, session: SessionDep) -> UserRead:
    """Choose a password with a one-time setup link's token; then sign in."""
    user = await users_service.consume_setup_link(
        session, token=body.token, password=body.password, client_ip=client_ip(request)
    )
    return UserRead.model_validate(user)
