"""The REST API's one error map: kind -> status code, body {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from spectra.errors import ErrorKind, SpectraError

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INVALID: 422,
    ErrorKind.REFUSED: 402,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.UPSTREAM: 502,
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def render_error(request: Request, exc: SpectraError) -> JSONResponse:
    status = STATUS_BY_KIND.get(exc.kind, 400)
    headers = {}
    retry_after = exc.details.get("retry_after")
    if status == 429 and retry_after is not None:
        headers["retry-after"] = str(int(retry_after))
    if status == 401:
        headers["www-authenticate"] = "Bearer"
    return JSONResponse(
        error_body(exc.code, exc.message, _jsonable(exc.details)),
        status_code=status,
        headers=headers,
    )


def render_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append({"field": loc, "message": err.get("msg", "invalid")})
    first = problems[0] if problems else {"field": "", "message": "invalid input"}
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    return JSONResponse(
        error_body("invalid_input", message, {"problems": problems}), status_code=422
    )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        out[key] = (
            value
            if isinstance(value, str | int | float | bool | list | dict) or value is None
            else str(value)
        )
    return out
