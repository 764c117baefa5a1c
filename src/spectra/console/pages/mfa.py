"""Second factors in the console: the second step of a password sign-in, the account's factors
(enrol an authenticator app, recovery codes), and step-up re-authentication.

URLs: GET/POST /console/login/second-factor, GET /console/account/mfa,
POST /console/account/mfa/totp, POST /console/account/mfa/totp/confirm,
POST /console/account/mfa/recovery-codes, GET/POST /console/reauth?next=...,
POST /console/users/{id}/mfa-reset (admin). Passkeys (WebAuthn) are in pages/passkeys.py.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from spectra.console.deps import AdminDep, RuntimeDep, SessionDep, ViewerDep, client_ip
from spectra.console.forms import Form
from spectra.console.i18n import _
from spectra.console.render import redirect, render
from spectra.errors import SpectraError, UnauthenticatedError
from spectra.users.mfa import repository as mfa_repository
from spectra.users.mfa import service as mfa_service
from spectra.users.sessions import SESSION_COOKIE
from spectra.users.sso import signin as sso_signin
from spectra.web.signin import note_device, session_ttl

from .auth import _safe_next, _same_origin, landing

router = APIRouter()


def _token(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise UnauthenticatedError("Sign in to use the console.")
    return token


@router.get("/login/second-factor")
async def second_factor_page(
    request: Request, session: SessionDep, next: str | None = None
) -> Response:
    _pending, user = await mfa_service.pending_sign_in(session, token=_token(request))
    factors = await mfa_service.factors_of(session, user.id)
    return render(
        request,
        None,
        "auth/second_factor.html",
        title=_("Second factor"),
        next=_safe_next(next),
        factors=factors,
        error=None,
    )


@router.post("/login/second-factor")
async def second_factor(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The code step: a TOTP code or a recovery code finishes the pending sign-in."""
    await _same_origin(request)
    form = await Form.read(request)
    target = _safe_next(form.get("next"))
    token = _token(request)
    try:
        user = await mfa_service.complete_sign_in(
            session,
            token=token,
            code=form["code"],
            ttl=session_ttl(runtime),
            client_ip=client_ip(request),
        )
    except SpectraError as exc:
        await session.rollback()
        if exc.code == "session_invalid":
            return redirect("/console/login", error=exc.message)
        _pending, pending_user = await mfa_service.pending_sign_in(session, token=token)
        return render(
            request,
            None,
            "auth/second_factor.html",
            title=_("Second factor"),
            next=target,
            factors=await mfa_service.factors_of(session, pending_user.id),
            error=exc.message,
        )
    response = redirect(landing(user.role, target))
    await note_device(request, response, session, runtime, user)
    return response


@router.get("/account/mfa")
async def factors_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    return render(
        request,
        viewer,
        "auth/mfa.html",
        title=_("Second factors"),
        factors=await mfa_service.factors_of(session, viewer.user_id),
        passkeys=await mfa_repository.list_passkeys(session, viewer.user_id),
        enrolment=None,
        codes=None,
        errors={},
    )


async def _enrol_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    enrolment: mfa_service.TotpEnrolment | None,
    errors: dict[str, str],
) -> Response:
    return render(
        request,
        viewer,
        "auth/totp_enrol.html",
        title=_("Enrol an authenticator app"),
        enrolment=enrolment,
        qr=Markup(enrolment.qr_svg) if enrolment else None,
        errors=errors,
    )


@router.post("/account/mfa/totp")
async def start_totp(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    enrolment = await mfa_service.start_totp(session, viewer.actor)
    return await _enrol_page(request, viewer, session, enrolment, {})


@router.post("/account/mfa/totp/confirm")
async def confirm_totp(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    form = await Form.read(request)
    try:
        codes = await mfa_service.confirm_totp(
            session, viewer.actor, code=form["code"], client_ip=client_ip(request)
        )
    except SpectraError as exc:
        await session.rollback()
        enrolment = await mfa_service.pending_totp(session, viewer.actor)
        return await _enrol_page(request, viewer, session, enrolment, {"code": exc.message})
    return render(
        request,
        viewer,
        "auth/recovery_codes.html",
        title=_("Your recovery codes"),
        codes=codes,
        enrolled=True,
    )


@router.post("/account/mfa/recovery-codes")
async def renew_codes(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    codes = await mfa_service.regenerate_recovery_codes(session, viewer.actor)
    return render(
        request,
        viewer,
        "auth/recovery_codes.html",
        title=_("Your recovery codes"),
        codes=codes,
        enrolled=False,
    )


@router.get("/reauth")
async def reauth_page(
    request: Request, viewer: ViewerDep, session: SessionDep, next: str | None = None
) -> Response:
    return await _reauth(request, viewer, session, _safe_next(next), None)


async def _reauth(
    request: Request, viewer: ViewerDep, session: SessionDep, target: str, error: str | None
) -> Response:
    return render(
        request,
        viewer,
        "auth/reauth.html",
        title=_("Confirm it is you"),
        next=target,
        factors=await mfa_service.factors_of(session, viewer.user_id),
        sso_provider=await sso_signin.provider_of_session(session, session_token=_token(request)),
        error=error,
    )


@router.post("/reauth")
async def reauth(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    """Step-up: the password (or the current TOTP code when an app is enrolled) again."""
    form = await Form.read(request)
    target = _safe_next(form.get("next"))
    try:
        await mfa_service.step_up(
            session,
            token=_token(request),
            password=form.data.get("password", ""),
            code=form["code"],
            client_ip=client_ip(request),
        )
    except SpectraError as exc:
        await session.rollback()
        return await _reauth(request, viewer, session, target, exc.message)
    return redirect(target, ok=_("Confirmed; send the form again."))


@router.post("/users/{user_id}/mfa-reset")
async def reset_factors(user_id: uuid.UUID, viewer: AdminDep, session: SessionDep) -> Response:
    """An admin removes a user's second factors (lost phone); the same service as the API's."""
    removed = await mfa_service.reset_factors(session, viewer.actor, user=user_id)
    total = sum(removed.values())
    message = "Second factors removed." if total else "This user had no second factor."
    return redirect(f"/console/users/{user_id}", ok=message)
