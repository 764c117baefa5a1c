"""What a completed sign-in leaves in the client, the same for the API and the console: the
HttpOnly session cookie with the readable CSRF cookie, and the long-lived device cookie (a new
device is mailed to its user)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from starlette.responses import Response

from spectra.db.hub import Hub
from spectra.db.session import Session
from spectra.users import service as users_service
from spectra.users.devices import DEVICE_COOKIE, DEVICE_COOKIE_DAYS
from spectra.users.models import User
from spectra.users.sessions import CSRF_COOKIE, SESSION_COOKIE

from .deps import client_ip


def cookie_secure(request: Request, runtime: Hub) -> bool:
    """The `Secure` flag: as configured (`cookie_secure`), else whether the request came by https."""
    configured = runtime.settings.cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


def session_ttl(runtime: Hub) -> timedelta:
    return timedelta(hours=max(1, runtime.settings.session_ttl_hours))


def set_session_cookies(
    response: Response,
    request: Request,
    runtime: Hub,
    opened: users_service.NewSession,
    *,
    max_age: int,
) -> None:
    """The HttpOnly session cookie and the readable CSRF cookie of a new session."""
    secure = cookie_secure(request, runtime)
    for name, value, httponly in (
        (SESSION_COOKIE, opened.token, True),
        (CSRF_COOKIE, opened.csrf_token, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=httponly,
            samesite="lax",
            secure=secure,
            path="/",
        )


async def note_device(
    request: Request, response: Response, session: Session, runtime: Hub, user: User
) -> None:
    """After a completed sign-in: recognise the client (a new device is mailed to the user) and
    keep its long-lived device cookie (a script keeps it as it keeps the session cookie)."""
    cookie = await users_service.recognise_device(
        session,
        user=user,
        device_cookie=request.cookies.get(DEVICE_COOKIE),
        user_agent=request.headers.get("user-agent"),
        client_ip=client_ip(request),
    )
    response.set_cookie(
        DEVICE_COOKIE,
        cookie,
        max_age=DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, runtime),
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    """Sign-out, or a password change that ended every session: the browser forgets both."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
