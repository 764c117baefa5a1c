"""Refusals and errors in the caller's protocol: OpenAI `{"error": {...}}`, Anthropic
`{"type": "error", "error": {...}}`, each with a Spectra `reason_code` and one human sentence.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from spectra.errors import ErrorKind, SpectraError
from spectra.providers.errors import UpstreamFailure
from spectra.providers.headers import forward_response_headers

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INVALID: 400,
    ErrorKind.REFUSED: 402,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.UPSTREAM: 502,
}

STATUS_BY_CODE: dict[str, int] = {"request_too_large": 413, "websocket_not_supported": 426}

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
"""What the Anthropic and OpenAI SDKs retry on their own. Every other refusal carries
`x-should-retry: false`, which both SDKs obey: without it Claude Code retries a 401 about ten
times with backoff (a mistyped key looked like a hang) before it prints our sentence."""


def retry_headers(status: int) -> list[tuple[bytes, bytes]]:
    return [] if status in RETRYABLE_STATUSES else [(b"x-should-retry", b"false")]


_ANTHROPIC_TYPES: dict[ErrorKind, str] = {
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.UNAUTHENTICATED: "authentication_error",
    ErrorKind.FORBIDDEN: "permission_error",
    ErrorKind.INVALID: "invalid_request_error",
    ErrorKind.REFUSED: "permission_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.UNAVAILABLE: "overloaded_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.CONFLICT: "invalid_request_error",
}

_OPENAI_TYPES: dict[ErrorKind, str] = {
    ErrorKind.UNAUTHENTICATED: "invalid_request_error",
    ErrorKind.REFUSED: "insufficient_quota",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.UNAVAILABLE: "server_error",
    ErrorKind.UPSTREAM: "server_error",
}


def is_anthropic_path(path: str) -> bool:
    return path.startswith("/v1/messages")


def refusal_body(
    *, anthropic: bool, kind: ErrorKind, code: str, message: str, request_id: str | None
) -> dict[str, Any]:
    if anthropic:
        body: dict[str, Any] = {
            "type": "error",
            "error": {
                "type": _ANTHROPIC_TYPES.get(kind, "api_error"),
                "message": message,
                "reason_code": code,
            },
        }
        if request_id:
            body["request_id"] = request_id
        return body
    return {
        "error": {
            "message": message,
            "type": _OPENAI_TYPES.get(kind, "invalid_request_error"),
            "param": None,
            "code": code,
            "reason_code": code,
        }
    }


def render_error(request: Request, exc: SpectraError) -> JSONResponse:
    rid = request.scope.get("state", {}).get("request_id")
    status = STATUS_BY_KIND.get(exc.kind, 400)
    headers = {"x-spectra-request-id": rid} if rid else {}
    headers["x-spectra-reason"] = exc.code
    headers.update((k.decode(), v.decode()) for k, v in retry_headers(status))
    retry_after = exc.details.get("retry_after")
    if retry_after is not None:
        headers["retry-after"] = str(int(retry_after))
    body = refusal_body(
        anthropic=is_anthropic_path(request.url.path),
        kind=exc.kind,
        code=exc.code,
        message=exc.message,
        request_id=rid,
    )
    return JSONResponse(body, status_code=status, headers=headers)


def render_unexpected(request: Request, request_id: str) -> JSONResponse:
    """A 500 in the caller's protocol: Anthropic `api_error`, OpenAI `server_error`."""
    body = refusal_body(
        anthropic=is_anthropic_path(request.url.path),
        # UPSTREAM maps to exactly those two types; the reason code says it was ours.
        kind=ErrorKind.UPSTREAM,
        code="internal_error",
        message=f"Something went wrong on our side (request {request_id}).",
        request_id=request_id,
    )
    headers = {"x-spectra-request-id": request_id} if request_id else {}
    return JSONResponse(body, status_code=500, headers=headers)


def render_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return render_error(
        request, _InvalidRequestError("The request is not valid for this endpoint.")
    )


class _InvalidRequestError(SpectraError):
    code = "invalid_request"
    kind = ErrorKind.INVALID


async def send_json(
    send: Any,
    status: int,
    body: dict[str, Any],
    *,
    request_id: str,
    prefix: str = "",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete JSON response from a plain ASGI endpoint."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"x-spectra-request-id", request_id.encode()),
        *(extra or []),
    ]
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}http.response.body", "body": payload, "more_body": False})


def status_of(exc: SpectraError) -> int:
    """The HTTP status a refusal is answered with."""
    return STATUS_BY_CODE.get(exc.code) or STATUS_BY_KIND.get(exc.kind, 400)


async def send_refusal(send: Any, exc: SpectraError, *, anthropic: bool, request_id: str) -> None:
    """A Spectra refusal in the caller's protocol, with `x-spectra-reason` and `retry-after`."""
    status = status_of(exc)
    extra = [(b"x-spectra-reason", exc.code.encode()), *retry_headers(status)]
    retry_after = exc.details.get("retry_after")
    if retry_after is not None:
        extra.append((b"retry-after", str(int(retry_after)).encode()))
    body = refusal_body(
        anthropic=anthropic,
        kind=exc.kind,
        code=exc.code,
        message=exc.message,
        request_id=request_id,
    )
    await send_json(send, status, body, request_id=request_id, extra=extra)


async def send_upstream_error(send: Any, failure: UpstreamFailure, *, request_id: str) -> None:
    """Pass the upstream's own error response through (status, body, its safe headers)."""
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in forward_response_headers(failure.headers)
        if k.lower() not in ("content-length", "content-encoding")
    ]
    headers.append((b"content-length", str(len(failure.body)).encode()))
    headers.append((b"x-spectra-request-id", request_id.encode()))
    headers.append((b"x-spectra-upstream-error", failure.type.value.encode()))
    await send({"type": "http.response.start", "status": failure.status or 502, "headers": headers})
    await send({"type": "http.response.body", "body": failure.body, "more_body": False})
