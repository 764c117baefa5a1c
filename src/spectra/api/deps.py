"""FastAPI dependencies as Annotated aliases: sessions (one unit of work per request) and the
caller (`ActorDep`), authenticated here for every /api route."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Header, Request

from spectra.audit.actor import Actor, user_actor
from spectra.db.session import read_scope, session_scope
from spectra.errors import UnauthenticatedError
from spectra.keys import service as keys_service
from spectra.keys.secrets import is_member_key
from spectra.users import service as users_service
from spectra.users.errors import CsrfError
from spectra.users.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_matches
from spectra.web.deps import ReadSessionDep as ReadSessionDep
from spectra.web.deps import RuntimeDep as RuntimeDep
from spectra.web.deps import SessionDep as SessionDep
from spectra.web.deps import client_ip as client_ip
from spectra.web.deps import get_runtime as get_runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _presented_secret(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise UnauthenticatedError("Send the API token as 'Authorization: Bearer <token>'.")
        return value.strip()
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


async def get_actor(request: Request) -> Actor:
    """The caller of this request, from (in order) an `Authorization: Bearer` admin API token or
    member key, an `x-api-key` member key, or the console session cookie.

    A member key acts with the member role (self-service only), whatever the user's role; a
    token acts with its user's current role (read-only when the token is). The user must be
    usable: suspended is a 403 `user_suspended`. Cookie-authenticated state-changing calls
    must pass the CSRF check (see `spectra.users.sessions`).
    """
    state = request.scope.setdefault("state", {})
    cached: Actor | None = state.get("actor")
    if cached is not None:
        return cached
    db = get_runtime(request).db
    ip = client_ip(request)
    secret = _presented_secret(request)
    if secret is not None:
        # Its own short unit of work: authenticating may record the credential's use.
        async with session_scope(db) as session:
            if is_member_key(secret):
                key = await keys_service.authenticate_key(session, secret, client_ip=ip)
                user = await users_service.active_user(session, key.user_id, allow_invited=True)
                actor = user_actor(user_id=user.id, email=user.email, role="member", via="key")
            else:
                token = await keys_service.authenticate_token(session, secret)
                user = await users_service.active_user(session, token.user_id, allow_invited=True)
                actor = user_actor(
                    user_id=user.id,
                    email=user.email,
                    role=user.role,
                    via="token",
                    read_only=token.read_only,
                )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise UnauthenticatedError(
                "Sign in, or send an API token as 'Authorization: Bearer <token>'."
            )
        async with read_scope(db) as session:
            _, user = await users_service.resolve_session(session, token=cookie)
            actor = user_actor(user_id=user.id, email=user.email, role=user.role, via="session")
        if request.method not in SAFE_METHODS:
            _check_csrf(request, cookie)
    actor = actor.with_request(state.get("request_id"), ip)
    state["actor"] = actor
    return actor


def _check_csrf(request: Request, session_token: str) -> None:
    """Same-origin check (when the browser says where the request comes from), then the signed
    double-submit token in `x-csrf-token`."""
    origin = request.headers.get("origin")
    if origin is not None and (
        origin == "null" or urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise CsrfError(
            "This request comes from another site; it was refused to protect your session."
        )
    if not csrf_matches(session_token, request.headers.get(CSRF_HEADER)):
        raise CsrfError(
            f"This request lacks a valid {CSRF_HEADER} header; reload the page (or send the token from sign-in)."
        )


IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=150)]
"""A client's key for a write it may retry: the retry then changes nothing twice."""
ActorDep = Annotated[Actor, Depends(get_actor)]
