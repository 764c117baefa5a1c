"""The gateway's other endpoints as plain ASGI apps: counting tokens, listing models and the
Responses WebSocket refusal.

    POST /v1/messages/count_tokens   Anthropic (free; no hold, no record)
    GET  /v1/models                  OpenAI shape, Anthropic shape with `anthropic-version`
    GET  /v1/responses               WebSocket upgrade: refused at once with 426
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from starlette.types import Receive, Scope, Send

from spectra.errors import SpectraError
from spectra.pool.errors import ModelNotServedError
from spectra.pool.state import PROTOCOL_PROVIDERS, TRANSLATION_TARGETS
from spectra.providers import inspect_request
from spectra.providers.errors import UpstreamFailure
from spectra.providers.metering import estimate_tokens_from_chars
from spectra.providers.translate import translate_request
from spectra.providers.types import WireProtocol

from . import models_list, refusals
from .auth import authenticate
from .body import client_ip, header, header_pairs, read_body, request_id_of
from .errors import (
    GatewayNotReadyError,
    ModelMissingError,
    ShuttingDownError,
    WebSocketNotSupportedError,
)
from .selection import Attempts, forward
from .streaming import response_headers
from .wiring import Gateway, current

ANTHROPIC_PROVIDERS = PROTOCOL_PROVIDERS[WireProtocol.ANTHROPIC_MESSAGES.value]
_OUTPUT_CAPS = ("model", "max_completion_tokens", "max_output_tokens", "generationConfig")
"""Left out of the estimated body: the model (in the URL for Gemini) and the output cap."""


class CountTokensEndpoint:
    """POST /v1/messages/count_tokens: free; the key, its scope and the model's access are
    checked, then the request goes to an Anthropic account (failover as usual)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        gw = current()
        if gw is None or not gw.accepting:
            await refusals.send_refusal(
                send,
                ShuttingDownError("This server is not accepting requests; retry in a moment."),
                anthropic=True,
                request_id=rid,
            )
            return
        gw.enter()
        try:
            await self._handle(gw, scope, receive, send, rid)
        finally:
            gw.leave()

    async def _handle(
        self, gw: Gateway, scope: Scope, receive: Receive, send: Send, rid: str
    ) -> None:
        protocol = WireProtocol.ANTHROPIC_MESSAGES
        try:
            entry = await authenticate(gw.keys, scope["headers"], client_ip(scope))
            body, decompressed = await read_body(scope, receive, gw.settings.gateway_max_body_bytes)
            info = inspect_request(protocol, body)
            if not info.model:
                raise ModelMissingError("The request names no model; set the 'model' field.")
            decision = await models_list.decide_for(gw, entry, info.model)
            if not decision.allowed and decision.reason_code in models_list.ACCESS_REASONS:
                assert decision.error is not None
                raise decision.error
            forwarded = await forward(
                scheduler=gw.scheduler,
                client=gw.client,
                protocol=protocol,
                path="/v1/messages/count_tokens",
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=header_pairs(scope),
                body=body,
                body_decompressed=decompressed,
                info=replace(info, stream=False),
                model=info.model,
                group_id=entry.group_id,
                timeouts=gw.timeouts,
                max_attempts=gw.settings.gateway_max_attempts,
                attempts=Attempts(),
                long_context=True,  # counting tokens is free
                translate=False,  # no other protocol counts tokens the Anthropic way
            )
        except UpstreamFailure as failure:
            if failure.status is not None and failure.body:
                await refusals.send_upstream_error(send, failure, request_id=rid)
            else:
                await refusals.send_refusal(send, failure, anthropic=True, request_id=rid)
            return
        except SpectraError as exc:
            estimate = (
                estimate_elsewhere(gw, info.fields, info.model, entry.group_id)
                if isinstance(exc, ModelNotServedError) and info.model
                else None
            )
            if estimate is None:
                await refusals.send_refusal(send, exc, anthropic=True, request_id=rid)
            else:
                tokens, protocol = estimate
                method = f"estimate; chars/4 of the body translated to {protocol.value}"
                await refusals.send_json(
                    send,
                    200,
                    {"input_tokens": tokens},
                    request_id=rid,
                    extra=[(b"x-spectra-token-count", method.encode())],
                )
            return
        resp = forwarded.response
        try:
            raw = await resp.read()
            resp.release()
        finally:
            gw.scheduler.release(forwarded.selection)
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": response_headers(resp, rid),
            }
        )
        await send({"type": "http.response.body", "body": raw, "more_body": False})


def estimate_elsewhere(
    gw: Gateway, fields: dict[str, Any], model: str, group_id: uuid.UUID
) -> tuple[int, WireProtocol] | None:
    """An estimate of the input tokens of a count_tokens body for a model only accounts of
    another protocol serve (and that take translated traffic), and the protocol it was measured
    in: the body translated to the protocol the account the scheduler prefers is sent (its
    priority tier first; `TRANSLATION_TARGETS`: Responses for OpenAI, Chat for OpenAI-compatible
    and Azure, Gemini's for Gemini), then ceil(characters / 4) of its JSON without the model
    and the output cap (docs/gateway.md, "Counting tokens"). None when no account on duty
    serves the model to this group."""
    group = str(group_id)
    serving = sorted(
        (runtime.config.priority, TRANSLATION_TARGETS[runtime.config.provider])
        for runtime in gw.scheduler.state.accounts.values()
        if runtime.config.provider not in ANTHROPIC_PROVIDERS
        and runtime.config.provider in TRANSLATION_TARGETS
        and runtime.config.translate
        and runtime.snapshot.state in models_list.ON_DUTY
        and runtime.config.open_to(group)
        and runtime.config.upstream_model(model) is not None
    )
    if not serving:
        return None
    upstream = WireProtocol(serving[0][1])
    try:
        out = translate_request(
            {"max_tokens": 1, **fields}, client=WireProtocol.ANTHROPIC_MESSAGES, upstream=upstream
        )
    except SpectraError:
        return None
    body = {k: v for k, v in out.body.items() if k not in _OUTPUT_CAPS}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return estimate_tokens_from_chars(len(text)), upstream


class ModelsEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        anthropic = header(scope, b"anthropic-version") is not None
        gw = current()
        try:
            if gw is None:
                raise GatewayNotReadyError("The gateway is not running in this process.")
            entry = await authenticate(gw.keys, scope["headers"], client_ip(scope))
            models = await models_list.usable_models(gw, entry)
        except SpectraError as exc:
            await refusals.send_refusal(send, exc, anthropic=anthropic, request_id=rid)
            return
        body = models_list.render(models, anthropic=anthropic)
        await refusals.send_json(send, 200, body, request_id=rid)


class ResponsesSocketEndpoint:
    """GET /v1/responses (a WebSocket upgrade from Codex's built-in provider): refused at once
    with 426, so the client falls back to HTTP without retrying."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_of(scope)
        error = WebSocketNotSupportedError(
            "Spectra serves the Responses API over HTTP only; use POST /v1/responses."
        )
        body = refusals.refusal_body(
            anthropic=False,
            kind=error.kind,
            code=error.code,
            message=error.message,
            request_id=rid,
        )
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            extensions = scope.get("extensions") or {}
            if "websocket.http.response" in extensions:
                await refusals.send_json(
                    send,
                    426,
                    body,
                    request_id=rid,
                    prefix="websocket.",
                    extra=[(b"upgrade", b"websocket")],
                )
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
            return
        await refusals.send_json(
            send, 426, body, request_id=rid, extra=[(b"upgrade", b"websocket")]
        )
