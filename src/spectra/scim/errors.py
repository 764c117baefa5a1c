"""The SCIM surface's one error map: every failure answers in the SCIM error shape
(RFC 7644 §3.12), with Spectra's stable code in `detail`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from spectra.errors import ErrorKind, SpectraError

SCIM_MEDIA_TYPE = "application/scim+json"

_STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INVALID: 400,
    ErrorKind.REFUSED: 400,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.UPSTREAM: 502,
}
_SCIM_TYPE_BY_CODE = {
    "email_taken": "uniqueness",
    "directory_id_taken": "uniqueness",
    "group_name_taken": "uniqueness",
}


class ScimResponse(JSONResponse):
    media_type = SCIM_MEDIA_TYPE


def scim_error(status: int, detail: str, scim_type: str | None = None) -> ScimResponse:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(status),
        "detail": detail,
    }
    if scim_type:
        body["scimType"] = scim_type
    headers = {"www-authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return ScimResponse(body, status_code=status, headers=headers)


def _from_spectra(exc: SpectraError) -> ScimResponse:
    status = _STATUS_BY_KIND.get(exc.kind, 400)
    scim_type = _SCIM_TYPE_BY_CODE.get(exc.code) or ("invalidValue" if status == 400 else None)
    return scim_error(status, f"{exc.code}: {exc.message}", scim_type)


def _from_scim(exc: SCIMException) -> ScimResponse:
    error: Error = exc.to_error()
    return scim_error(int(error.status or 400), str(error.detail or exc), error.scim_type)


def _handle_spectra(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SpectraError)
    return _from_spectra(exc)


def _handle_scim(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SCIMException)
    return _from_scim(exc)


def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    first = exc.errors()[0] if exc.errors() else {"msg": "invalid", "loc": ()}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return scim_error(400, f"{where}: {first['msg']}".lstrip(": "), "invalidValue")


def _handle_json(request: Request, exc: Exception) -> Response:
    return scim_error(400, "The body is not valid JSON.", "invalidSyntax")


_HANDLERS: dict[Any, Callable[[Request, Exception], Response]] = {
    SpectraError: _handle_spectra,
    SCIMException: _handle_scim,
    ValidationError: _handle_validation,
    json.JSONDecodeError: _handle_json,
}


class ScimRoute(APIRoute):
    """Routes whose every error (Spectra's, SCIM's, a bad body) is a SCIM error response. The
    handlers are Starlette's, so an error still leaves the unit of work first (rolled back)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, status_handlers = scope.get("starlette.exception_handlers", ({}, {}))
        scope["starlette.exception_handlers"] = (_HANDLERS, status_handlers)
        await super().handle(scope, receive, send)


class ScimInvalidError(SCIMException):
    """A request Spectra cannot carry out as asked (400, with the given scimType)."""

    status = 400

    def __init__(self, detail: str, *, scim_type: str = "invalidValue") -> None:
        super().__init__(detail=detail)
        self.scim_type = scim_type


class ScimNotFoundError(SCIMException):
    status = 404

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)


class ScimNotImplementedError(SCIMException):
    status = 501

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)
