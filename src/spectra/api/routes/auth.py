"""/api/auth: console sign-in (a session cookie), sign-out, and password setup through a
one-time link. Sign-in is rate limited per email and per client IP."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from spectra.api.deps import RuntimeDep, SessionDep, client_ip
from spectra.api.handlers import error_body
from spectra.kit.clock import utc_now
from spectra.users import service as users_service
from spectra.users.errors import CsrfError
from spectra.users.mfa import service as mfa_service
from spectra.users.mfa.errors import MfaRequiredError
from spectra.users.schemas import LoginIn, SecondFactorIn, SetupIn, SignInRead, UserRead
from spectra.users.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_matches
from spectra.web.signin import clear_session_cookies, note_device, session_ttl, set_session_cookies

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=SignInRead)
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, runtime: RuntimeDep
) -> Response | SignInRead:
    """Sign in with email and password: sets the HttpOnly session cookie and answers with the
    CSRF token to send as `x-csrf-token` on state-changing requests.

    An account with a second factor gets no session here: the answer is 401 `mfa_required`
    with `details.challenge`, a token to send to `POST /api/auth/login/second-factor` with a
    code within `details.expires_at` (10 minutes)."""
    opened = await users_service.sign_in(
        session,
        email=body.email,
        password=body.password,
        client_ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        ttl=session_ttl(runtime),
    )
    if opened.row.second_factor_pending:
        refusal = MfaRequiredError(
            "This account has a second factor: send the challenge with the current code from "
            "your authenticator app, or a recovery code, to /api/auth/login/second-factor."
        )
        details = {"challenge": opened.token, "expires_at": opened.expires_at.isoformat()}
        return JSONResponse(
            error_body(refusal.code, refusal.message, details),
            status_code=401,
            headers={"cache-control": "no-store", "www-authenticate": "Bearer"},
        )
    await note_device(request, response, session, runtime, opened.user)
    return _signed_in(request, response, runtime, opened)


@router.post("/login/second-factor")
async def login_second_factor(
    body: SecondFactorIn,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SignInRead:
    """The second step of an API sign-in: the challenge from `mfa_required` and a TOTP code or
    a recovery code. Wrong codes are rate limited as in the console (401 `second_factor_wrong`,
    `second_factor_replayed`, then 429 `second_factor_locked`); an unknown or expired challenge
    is 401 `session_invalid` (sign in again)."""
    opened = await mfa_service.complete_challenge(
        session,
        challenge=body.challenge,
        code=body.code,
        ttl=session_ttl(runtime),
        client_ip=client_ip(request),
    )
    await note_device(request, response, session, runtime, opened.user)
    return _signed_in(request, response, runtime, opened)


def _signed_in(
    request: Request, response: Response, runtime: RuntimeDep, opened: users_service.NewSession
) -> SignInRead:
    max_age = int((opened.expires_at - utc_now()).total_seconds())
    set_session_cookies(response, request, runtime, opened, max_age=max_age)
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
    clear_session_cookies(response)
    return response


@router.post("/setup")
async def setup_password(body: SetupIn, request: Request, session: SessionDep) -> UserRead:
    """Choose a password with a one-time setup link's token; then sign in."""
    user = await users_service.consume_setup_link(
        session, token=body.token, password=body.password, client_ip=client_ip(request)
    )
    return UserRead.model_validate(user)
