"""Sign-in, sign-out, the password-setup page behind a one-time link, and password change.

URLs: GET/POST /console/login (with one button per SSO provider, see pages/sso.py), POST /console/logout, GET/POST /console/setup?token=...,
GET /console/account, GET /console/account/sessions, POST /console/account/sessions/end-others,
POST /console/account/password.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from spectra.console.deps import (
    ReadSessionDep,
    RuntimeDep,
    SessionDep,
    ViewerDep,
    check_csrf,
    client_ip,
)
from spectra.console.forms import Form, field_errors
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.errors import SpectraError
from spectra.users import service as users_service
from spectra.users.sessions import SESSION_COOKIE, hash_token
from spectra.users.sso import service as sso_service
from spectra.users.sso import signin as sso_signin
from spectra.web.signin import clear_session_cookies, note_device, session_ttl, set_session_cookies

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a console path may follow sign-in (no open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/"


@router.get("/login")
async def login_page(
    request: Request, session: ReadSessionDep, next: str | None = None
) -> Response:
    return render(
        request,
        None,
        "auth/login.html",
        title=_("Sign in"),
        next=_safe_next(next),
        values={},
        sso_providers=await sso_service.sign_in_choices(session),
    )


@router.post("/login")
async def login(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Sign in: no CSRF token yet (there is no session), but the request must come from this site."""
    await _same_origin(request)
    form = await Form.read(request)
    target = _safe_next(form.get("next"))
    try:
        opened = await users_service.sign_in(
            session,
            email=form["email"],
            password=form.data.get("password", ""),
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            ttl=session_ttl(runtime),
        )
    except SpectraError as exc:
        await session.rollback()
        return render(
            request,
            None,
            "auth/login.html",
            status_code=200,
            title=_("Sign in"),
            next=target,
            values={"email": form["email"]},
            error=exc.message,
            sso_providers=await sso_service.sign_in_choices(session),
        )
    if opened.row.second_factor_pending:
        target = f"/console/login/second-factor?next={quote(target)}"
    else:
        target = landing(opened.user.role, target)
    response = redirect(target)
    set_console_session(response, request, runtime, opened)
    if not opened.row.second_factor_pending:
        await note_device(request, response, session, runtime, opened.user)
    return response


def landing(user_role: str, target: str) -> str:
    """Where a completed sign-in goes: a member asked for the console's front page gets theirs."""
    return "/console/me" if user_role == "member" and target == "/console/" else target


def set_console_session(
    response: Response, request: Request, runtime: RuntimeDep, opened: users_service.NewSession
) -> None:
    """The session cookies of a new console session: they live as long as the session."""
    max_age = int((opened.expires_at - opened.row.created_at).total_seconds())
    set_session_cookies(response, request, runtime, opened, max_age=max_age)


async def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    if origin is not None and (origin == "null" or not origin.endswith("://" + (host or ""))):
        from spectra.users.errors import CsrfError

        raise CsrfError("This form was sent from another site; it was refused.")


@router.post("/logout")
async def logout(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """End the Spectra session; after an SSO sign-in, also the provider's (RP-initiated logout)."""
    token = request.cookies.get(SESSION_COOKIE)
    provider_logout = None
    if token:
        await check_csrf(request, token)
        provider_logout = await sso_signin.logout_url(
            session,
            session_token=token,
            post_logout_redirect_uri=f"{runtime.settings.public_base()}/console/login",
        )
        await users_service.end_session(session, token=token)
    response: Response = redirect("/console/login", ok=_("You are signed out."))
    if provider_logout:
        # A page that moves on by itself, not a redirect: the console's CSP (form-action 'self')
        # forbids a form post from ending up at another origin.
        response = render(
            request,
            None,
            "auth/signed_out.html",
            title=_("Signed out"),
            provider_logout=provider_logout,
        )
    clear_session_cookies(response)
    return response


@router.get("/setup")
async def setup_page(request: Request, token: str = "") -> Response:
    return render(request, None, "auth/setup.html", title=_("Choose your password"), token=token)


@router.post("/setup")
async def setup(request: Request, session: SessionDep) -> Response:
    """Choose a password with the link's token (the token itself is the proof; single use)."""
    await _same_origin(request)
    form = await Form.read(request)
    token = form["token"]
    password = form.data.get("password", "")
    errors: dict[str, str] = {}
    if password != form.data.get("password_again", ""):
        errors["password_again"] = _("The two passwords differ.")
    else:
        try:
            user = await users_service.consume_setup_link(
                session, token=token, password=password, client_ip=client_ip(request)
            )
        except SpectraError as exc:
            await session.rollback()
            errors = field_errors(exc, default_field="password")
            if exc.code == "setup_link_invalid":
                errors = {"_form": exc.message}
        else:
            return redirect(
                f"/console/login?email={quote(user.email)}",
                ok=_("Your password is set; sign in with it."),
            )
    return render(
        request,
        None,
        "auth/setup.html",
        title=_("Choose your password"),
        token=token,
        errors=errors,
    )


@router.get("/account")
async def account(request: Request, viewer: ViewerDep) -> Response:
    return render(request, viewer, "auth/account.html", title=_("Your account"), errors={})


@router.get("/account/sessions")
async def sessions_page(request: Request, viewer: ViewerDep, session: ReadSessionDep) -> Response:
    """Where a new-device mail leads: the live sessions (when, from where, with what)."""
    rows = await users_service.own_sessions(session, viewer.actor)
    current = request.cookies.get(SESSION_COOKIE, "")
    return render(
        request,
        viewer,
        "auth/sessions.html",
        title=_("Your sessions"),
        sessions=rows,
        current_hash=hash_token(current) if current else "",
    )


@router.post("/account/sessions/end-others")
async def end_other_sessions(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    ended = await users_service.end_other_sessions(
        session, viewer.actor, current_token=request.cookies.get(SESSION_COOKIE, "")
    )
    return redirect(
        "/console/account/sessions",
        ok=_("Signed out %(ended)s other session%(s)s.", ended=ended, s="s" if ended != 1 else ""),
    )


@router.post("/account/password")
async def change_password(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    errors: dict[str, str] = {}
    if form.data.get("new_password", "") != form.data.get("new_password_again", ""):
        errors["new_password_again"] = _("The two new passwords differ.")
    else:
        try:
            await users_service.change_password(
                session,
                viewer.actor,
                current_password=form.data.get("current_password", ""),
                new_password=form.data.get("new_password", ""),
            )
        except SpectraError as exc:
            await session.rollback()
            errors = field_errors(exc, default_field="new_password")
            if exc.code == "current_password_wrong":
                errors = {"current_password": exc.message}
        else:
            response = redirect(
                "/console/login", ok=_("Your password is changed; sign in again with the new one.")
            )
            clear_session_cookies(response)
            return response
    return render(request, viewer, "auth/account.html", title=_("Your account"), errors=errors)
