"""The Gemini API surface Gemini CLI and the google-genai SDK use.

    POST /v1beta/models/{model}:generateContent          the generation pipeline, translated
    POST /v1beta/models/{model}:streamGenerateContent    (?alt=sse) to the pool's accounts
    POST /v1beta/models/{model}:countTokens              an estimate (free, no upstream call)
    GET  /v1beta/models                                  the models this caller may use

The model and streaming come from the URL; the key from `x-goog-api-key` or `?key=`. Every
refusal is in Gemini's shape, `{"error": {"code", "message", "status", "reason_code"}}`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Receive, Scope, Send

from spectra.errors import SpectraError
from spectra.keys.cache import KeyEntry
from spectra.providers import RequestInfo, estimate_input_tokens, inspect_request
from spectra.providers.translate.gemini_common import STATUS_NAMES
from spectra.providers.types import WireProtocol

from . import models_list, refusals
from .auth import authenticate
from .body import client_ip, read_body, request_id_of
from .errors import GatewayNotReadyError
from .generation import GenerationEndpoint
from .wiring import Gateway, current

_NAMES = {**STATUS_NAMES, 402: "RESOURCE_EXHAUSTED"}
"""Google's status names; Spectra's 402 (no money left) reads as Google's quota refusal."""


def with_query_key(scope: Scope) -> Scope:
    """`?key=` as an `x-goog-api-key` header (when no key header came), without the query."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
    key = next((v for k, v in pairs if k == "key"), None)
    names = {name for name, _ in scope["headers"]}
    if key is None or names & {b"x-goog-api-key", b"x-api-key", b"authorization"}:
        return scope
    rest = "&".join(f"{k}={v}" for k, v in pairs if k != "key").encode("latin-1")
    headers = [*scope["headers"], (b"x-goog-api-key", key.encode("latin-1"))]
    return {**scope, "headers": headers, "query_string": rest}


def gemini_errors(send: Send) -> Send:
    """`send` with error responses rewritten into Gemini's shape (those already in it pass)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start" and message["status"] >= 400:
            start = message
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _gemini_body(start["status"], b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped


def _gemini_body(status: int, raw: bytes) -> bytes:
    try:
        obj: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        obj = None
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict) and isinstance(err.get("status"), str):
        return raw
    message = err.get("message") if isinstance(err, dict) else None
    error: dict[str, Any] = {
        "code": status,
        "message": message if isinstance(message, str) else raw.decode("utf-8", "replace"),
        "status": _NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"),
    }
    if isinstance(err, dict) and isinstance(err.get("reason_code"), str):
        error["reason_code"] = err["reason_code"]
    return json.dumps({"error": error}).encode()


class GeminiGenerationEndpoint(GenerationEndpoint):
    """generateContent / streamGenerateContent through the generation pipeline."""

    def __init__(self, *, stream: bool) -> None:
        method = "streamGenerateContent" if stream else "generateContent"
        super().__init__(WireProtocol.GEMINI, f"/v1beta/models/{{model}}:{method}")
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(with_query_key(scope), receive, gemini_errors(send))

    def inspect(self, scope: Scope, body: bytes) -> RequestInfo:
        info = inspect_request(WireProtocol.GEMINI, body)
        model = str(scope.get("path_params", {}).get("model", ""))
        info.fields["model"], info.fields["stream"] = model, self.stream
        return replace(info, model=model, stream=self.stream)


class _KeyedEndpoint:
    """A Gemini endpoint that only needs the caller's key (and maybe the body)."""

    read: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope, send = with_query_key(scope), gemini_errors(send)
        rid = request_id_of(scope)
        gw = current()
        try:
            if gw is None:
                raise GatewayNotReadyError("The gateway is not running in this process.")
            entry = await authenticate(gw.keys, scope["headers"], client_ip(scope))
            body = b""
            if self.read:
                body, _ = await read_body(scope, receive, gw.settings.gateway_max_body_bytes)
                inspect_request(WireProtocol.GEMINI, body)
        except SpectraError as exc:
            await refusals.send_refusal(send, exc, anthropic=False, request_id=rid)
            return
        payload = await self.answer(gw, entry, body)
        data = json.dumps(payload).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": False})

    async def answer(self, gw: Gateway, entry: KeyEntry, body: bytes) -> dict[str, Any]:
        raise NotImplementedError


class GeminiCountTokensEndpoint(_KeyedEndpoint):
    """:countTokens, answered with the gateway's own estimate (no upstream call, no charge)."""

    read = True

    async def answer(self, gw: Gateway, entry: KeyEntry, body: bytes) -> dict[str, Any]:
        return {"totalTokens": estimate_input_tokens(body)}


class GeminiModelsEndpoint(_KeyedEndpoint):
    """GET /v1beta/models: what this caller may use, as Gemini lists models."""

    async def answer(self, gw: Gateway, entry: KeyEntry, body: bytes) -> dict[str, Any]:
        models = [
            {
                "name": f"models/{model}",
                "displayName": model,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for model, _ in await models_list.usable_models(gw, entry)
        ]
        return {"models": models}
