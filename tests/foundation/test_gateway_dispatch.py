"""/v1 requests skip FastAPI's middleware stack: the answers must be the ones the full stack gives."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from spectra.app import SpectraApp, create_app
from spectra.errors import ErrorKind, SpectraError


class _TestRefusedError(SpectraError):
    code = "test_refused"
    kind = ErrorKind.REFUSED


class _Boom:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")


class _Refuse:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise _TestRefusedError("Not today.", retry_after=3)


class _Echo:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = scope["state"]["request_id"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def _app(*, fast: bool) -> SpectraApp:
    app = create_app()
    app.router.routes[0:0] = [
        Route("/v1/test/boom", _Boom(), methods=["POST"]),
        Route("/v1/test/refuse", _Refuse(), methods=["POST"]),
        Route("/v1/test/echo", _Echo(), methods=["POST"]),
    ]
    if not fast:
        app._gateway_routes = {}  # nothing dispatched early: the full stack answers
    return app


async def _answers(app: SpectraApp) -> list[tuple[int, dict[str, str], str]]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    out: list[tuple[int, dict[str, str], str]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://spectra") as client:
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/v1/test/boom", {"x-request-id": "trace-12345678"}),
            ("POST", "/v1/test/refuse", {"x-request-id": "trace-12345678"}),
            ("POST", "/v1/test/echo", {"x-request-id": "trace-12345678"}),
            ("POST", "/v1/test/echo", {"x-request-id": "bad id"}),
            ("GET", "/v1/test/echo", {"x-request-id": "trace-12345678"}),
            ("POST", "/v1/test/nowhere", {"x-request-id": "trace-12345678"}),
        ]
        for method, path, headers in calls:
            response = await client.request(method, path, headers=headers)
            seen = dict(response.headers)
            if headers["x-request-id"] == "bad id":
                assert seen["x-request-id"].startswith("req_")
                assert response.text == seen["x-request-id"]
                seen["x-request-id"] = "<new>"
                out.append((response.status_code, seen, "<new>"))
                continue
            out.append((response.status_code, seen, response.text))
    return out


async def test_gateway_routes_answer_exactly_as_through_the_middleware_stack() -> None:
    fast = await _answers(_app(fast=True))
    slow = await _answers(_app(fast=False))
    assert fast == slow
    statuses = [status for status, _, _ in fast]
    assert statuses == [500, 402, 200, 200, 405, 404]
    # The 500 body is in the caller's protocol (OpenAI here) and names the request id.
    assert json.loads(fast[0][2])["error"]["type"] == "server_error"
    assert "trace-12345678" in fast[0][2]
    assert fast[1][1]["x-request-id"] == "trace-12345678"
    assert fast[1][1]["retry-after"] == "3"
