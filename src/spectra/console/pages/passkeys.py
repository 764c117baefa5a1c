"""Passkeys in the console (WebAuthn; the browser side is static/passkeys.js): register one,
sign in with one alone (passwordless), use one as the second step of a password sign-in, or to
confirm it is you (step-up). Every ceremony is two JSON posts: the options, then the response.

URLs: POST /console/account/passkeys/options, POST /console/account/passkeys,
POST /console/login/passkey/options, POST /console/login/passkey,
POST /console/login/second-factor/passkey/options, POST /console/login/second-factor/passkey,
POST /console/reauth/passkey/options, POST /console/reauth/passkey.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from spectra.console.deps import RuntimeDep, SessionDep, ViewerDep, client_ip
from spectra.errors import ErrorKind, SpectraError
from spectra.users.mfa import passkeys
from spectra.users.mfa import service as mfa_service
from spectra.users.mfa.errors import PasskeyInvalidError
from spectra.users.service import auth as users_auth
from spectra.users.sessions import SESSION_COOKIE
from spectra.users.sso import rules as sso_rules
from spectra.web.signin import note_device, session_ttl

from .auth import _safe_next, _same_origin, landing, set_console_session

router = APIRouter()

_STATUS = {ErrorKind.UNAUTHENTICATED: 401, ErrorKind.FORBIDDEN: 403, ErrorKind.RATE_LIMITED: 429}


def relying_party(request: Request, runtime: RuntimeDep) -> passkeys.RelyingParty:
    """The console's origin: the public URL when configured, else what the browser used."""
    base = runtime.settings.public_url or f"{request.url.scheme}://{request.headers.get('host')}"
    parts = urlsplit(base.rstrip("/"))
    return passkeys.RelyingParty(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}")


def _options(text: str) -> Response:
    return Response(text, media_type="application/json", headers={"cache-control": "no-store"})


def _failed(exc: SpectraError) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}},
        status_code=_STATUS.get(exc.kind, 400),
    )


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def _credential(body: dict[str, Any]) -> str:
    return json.dumps(body.get("credential") or {})


@router.post("/account/passkeys/options")
async def register_options(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    try:
        text = await passkeys.registration_options(
            session, viewer.actor, relying_party(request, runtime)
        )
    except SpectraError as exc:
        await session.rollback()
        return _failed(exc)
    return _options(text)


@router.post("/account/passkeys")
async def register(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    body = await _body(request)
    try:
        await passkeys.register(
            session,
            viewer.actor,
            relying_party(request, runtime),
            credential=_credential(body),
            name=str(body.get("name") or "Passkey"),
        )
    except SpectraError as exc:
        await session.rollback()
        return _failed(exc)
    return JSONResponse({"redirect": "/console/account/mfa"})


@router.post("/login/passkey/options")
async def passwordless_options(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await _same_origin(request)
    text = await passkeys.authentication_options(
        session, relying_party(request, runtime), purpose="passwordless", user=None
    )
    return _options(text)


@router.post("/login/passkey")
async def passwordless(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Sign in with a passkey alone: it is something you have and (verified) you are or know."""
    await _same_origin(request)
    body = await _body(request)
    try:
        _, user = await passkeys.authenticate(
            session,
            relying_party(request, runtime),
            purpose="passwordless",
            credential=_credential(body),
        )
        await sso_rules.check_password_sign_in(session, user)
        opened = await users_auth.create_session(
            session,
            user=user,
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            ttl=session_ttl(runtime),
            method="passkey",
        )
        await mfa_service.audit_sign_in(session, opened.row, user, client_ip=client_ip(request))
    except SpectraError as exc:
        await session.rollback()
        return _failed(exc)
    response = JSONResponse(
        {"redirect": landing(user.role, _safe_next(str(body.get("next") or "")))}
    )
    set_console_session(response, request, runtime, opened)
    await note_device(request, response, session, runtime, user)
    return response


def _token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE) or ""


@router.post("/login/second-factor/passkey/options")
async def second_factor_options(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await _same_origin(request)
    try:
        _, user = await mfa_service.pending_sign_in(session, token=_token(request))
    except SpectraError as exc:
        await session.rollback()
        return _failed(exc)
    text = await passkeys.authentication_options(
        session, relying_party(request, runtime), purpose="second_factor", user=user
    )
    return _options(text)


@router.post("/login/second-factor/passkey")
async def second_factor(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    await _same_origin(request)
    body = await _body(request)
    try:
        row, user = await mfa_service.pending_sign_in(session, token=_token(request))
        _, owner = await passkeys.authenticate(
            session,
            relying_party(request, runtime),
            purpose="second_factor",
            credential=_credential(body),
        )
        if owner.id != user.id:
            raise PasskeyInvalidError("This passkey belongs to another account.")
        await mfa_service.finish_sign_in(
            session,
            row,
            user,
            method="passkey",
            ttl=session_ttl(runtime),
            client_ip=client_ip(request),
        )
    except SpectraError as exc:
        await session.rollback()
        return _failed(exc)
    response = JSONResponse(
        {"redirect": landing(user.role, _safe_next(str(body.get("next") or "")))}
    )
    await note_device(request, response, session, runtime, user)
    return response


@router.post("/reauth/passkey/options")
async def step_up_options(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    user = await users_auth.active_user(session, viewer.user_id)
    text = await passkeys.authentication_options(
        session, relying_party(request, runtime), purpose="step_up", user=user
    )
    return _options(text)


@router.post("/reauth/passkey")
async def step_up(
    request: Request, viewer: ViewerDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    body = await _body(request)
    try:
        row, user = await users_auth.resolve_session(session, token=_token(request))
        _, owner = await passkeys.authenticate(
            session,
            relying_party(request, runtime),
            purpose="step_up",
            credential=_credential(body),
        )
        if owner.id != user.id:
            raise PasskeyInvalidError("This passkey belongs to another account.")
        await mfa_service.mark_step_up(
            session, row, user, method="passkey", client_ip=client_ip(request)
        )
    except SpectraError as exc:
        await session.rollback()
        return _failed(exc)
    return JSONResponse({"redirect": _safe_next(str(body.get("next") or ""))})
