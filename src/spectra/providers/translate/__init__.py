"""Translation between Anthropic Messages, OpenAI Chat Completions, OpenAI Responses and
Gemini generateContent.

Pure functions over parsed bodies and stream events, no I/O. A request is translated once
(`translate_request`), which returns the body to send and a `TranslationContext`; the answer
is translated back with that context: `translate_response` for a JSON body,
`StreamTranslator` / `SSEStreamTranslator` for a stream, `translate_error` for an error.
Every direction reads into the neutral form in `ir.py` and writes out of it. The mapping
table, with what degrades and what is refused, is in docs/gateway.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spectra.providers.types import Usage, WireProtocol

from . import (
    anthropic_request,
    anthropic_response,
    chat_request,
    chat_response,
    gemini_request,
    gemini_response,
    responses_request,
    responses_response,
)
from .common import (
    SHAPE_ERRORS,
    TranslationRefusedError,
    UnreadableAnswerError,
    UnreadableBodyError,
    anthropic_error,
    error_from_anthropic,
    error_from_openai,
    openai_error,
)
from .context import TranslationContext
from .gemini_common import error_from_gemini, gemini_error
from .ir import Request, Response
from .sse_stream import SSEStreamTranslator
from .sse_text import encode_sse
from .stream import StreamTranslator

_ANTHROPIC = WireProtocol.ANTHROPIC_MESSAGES
_CHAT = WireProtocol.OPENAI_CHAT
_GEMINI = WireProtocol.GEMINI

_READ_REQUEST: dict[WireProtocol, Callable[[dict[str, Any]], Request]] = {
    _ANTHROPIC: anthropic_request.read_request,
    _CHAT: chat_request.read_request,
    WireProtocol.OPENAI_RESPONSES: responses_request.read_request,
    _GEMINI: gemini_request.read_request,
}
_WRITE_REQUEST: dict[WireProtocol, Callable[[Request], dict[str, Any]]] = {
    _ANTHROPIC: anthropic_request.write_request,
    _CHAT: chat_request.write_request,
    WireProtocol.OPENAI_RESPONSES: responses_request.write_request,
    _GEMINI: gemini_request.write_request,
}
_READ_RESPONSE: dict[WireProtocol, Callable[[dict[str, Any]], Response]] = {
    _ANTHROPIC: anthropic_response.read_response,
    _CHAT: chat_response.read_response,
    WireProtocol.OPENAI_RESPONSES: responses_response.read_response,
    _GEMINI: gemini_response.read_response,
}
_WRITE_RESPONSE: dict[WireProtocol, Callable[[Response, TranslationContext], dict[str, Any]]] = {
    _ANTHROPIC: anthropic_response.write_response,
    _CHAT: chat_response.write_response,
    WireProtocol.OPENAI_RESPONSES: responses_response.write_response,
    _GEMINI: gemini_response.write_response,
}


_READ_ERROR = {_ANTHROPIC: error_from_anthropic, _GEMINI: error_from_gemini}
_WRITE_ERROR = {_ANTHROPIC: anthropic_error, _GEMINI: gemini_error}


@dataclass(frozen=True, slots=True)
class TranslatedRequest:
    body: dict[str, Any]
    """The request body to send upstream (JSON-ready)."""
    context: TranslationContext
    """Pass to every translation of the answer."""
    model: str = ""
    """The model asked of the upstream (Gemini carries it in the URL, not the body)."""
    stream: bool = False
    """Whether the answer streams (Gemini: `:streamGenerateContent?alt=sse`)."""


def translate_request(
    body: dict[str, Any],
    *,
    client: WireProtocol,
    upstream: WireProtocol,
    model: str | None = None,
    created: int = 0,
    stream: bool | None = None,
) -> TranslatedRequest:
    """Translate a parsed request body from the caller's protocol to the upstream's.

    `model` replaces the model name (an account alias); `created` (Unix time, from the
    caller's clock) stamps answers whose upstream gives no time. Raises `TranslationRefusedError`
    (code `translation_unsupported`) for what the upstream protocol cannot express at all;
    what it can only approximate is listed in `context.degraded`. Same-protocol traffic is
    relayed untouched, never translated: `client` and `upstream` must differ. A Gemini
    caller's model and streaming come from its URL: pass them as `model` and `stream`.
    """
    if client is upstream:
        raise ValueError("translate_request needs two different protocols")
    try:
        req = _READ_REQUEST[client](body)
        if model is not None:
            req.model = model
        if stream is not None:
            req.stream = stream
        out = _WRITE_REQUEST[upstream](req)
    except SHAPE_ERRORS as exc:
        raise UnreadableBodyError(
            f"the request body is not a valid {client.value} request", error=repr(exc)
        ) from exc
    options = body.get("stream_options")
    context = TranslationContext(
        client=client,
        upstream=upstream,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        namespaces=dict(req.namespaces),
        custom_tools=frozenset(t.name for t in req.tools if t.custom),
        degraded=tuple(dict.fromkeys(req.degraded)),
        created=created,
    )
    return TranslatedRequest(out, context, req.model, req.stream)


def translate_response(body: dict[str, Any], context: TranslationContext) -> dict[str, Any]:
    """Translate a non-streamed upstream answer body into the caller's protocol. Raises
    `UnreadableAnswerError` (an upstream error, 502) when the body is not its protocol's shape."""
    try:
        return _WRITE_RESPONSE[context.client](_READ_RESPONSE[context.upstream](body), context)
    except SHAPE_ERRORS as exc:
        raise UnreadableAnswerError(
            f"the upstream answer is not a valid {context.upstream.value} body", error=repr(exc)
        ) from exc


def response_usage(body: dict[str, Any], protocol: WireProtocol) -> Usage:
    """The usage of an answer body in `protocol`, normalised (what billing charges)."""
    return _READ_RESPONSE[protocol](body).usage


def translate_error(
    status: int, body: bytes | dict[str, Any] | None, context: TranslationContext
) -> tuple[int, dict[str, Any]]:
    """Translate an upstream error (status and body, parsed or raw) into the caller's error
    shape and status. The upstream status is kept, except that Anthropic's 529 (overloaded)
    reaches OpenAI and Gemini callers as 503."""
    parsed: object = body
    if isinstance(body, bytes):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = body.decode("utf-8", "replace")
    read = _READ_ERROR.get(context.upstream, error_from_openai)
    error = read(status, parsed)
    return _WRITE_ERROR.get(context.client, openai_error)(error)


__all__ = [
    "SSEStreamTranslator",
    "StreamTranslator",
    "TranslatedRequest",
    "TranslationContext",
    "TranslationRefusedError",
    "UnreadableAnswerError",
    "UnreadableBodyError",
    "encode_sse",
    "response_usage",
    "translate_error",
    "translate_request",
    "translate_response",
]
