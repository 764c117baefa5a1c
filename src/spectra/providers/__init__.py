"""Upstream providers: the shared HTTP client, each provider's wire details, stream taps and
the typed upstream error taxonomy. Base layer: imports only errors, kit and config."""

from __future__ import annotations

import json
from typing import Any

from . import anthropic, azure, bedrock, gemini, openai, vertex
from .bodies import RequestInfo, estimate_input_tokens, inspect_request, rewrite_request
from .client import ClientLimits, Timeouts, UpstreamClient, UpstreamResponse
from .errors import (
    AccountEffect,
    FailureType,
    UpstreamFailure,
    classify_exception,
    classify_response,
    classify_stream_error,
)
from .metering import Metered, body_output_chars, meter
from .taps import StreamUsageTap
from .types import Provider, Usage, WireProtocol


def make_tap(protocol: WireProtocol) -> StreamUsageTap:
    """A fresh stream tap for `protocol`."""
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        return anthropic.AnthropicMessagesTap()
    if protocol is WireProtocol.OPENAI_CHAT:
        return openai.OpenAIChatTap()
    if protocol is WireProtocol.GEMINI:
        return gemini.GeminiTap()
    return openai.OpenAIResponsesTap()


def usage_from_body(protocol: WireProtocol, body: bytes) -> Usage | None:
    """Usage of a non-streamed (already decompressed) response body, or None."""
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        return anthropic.usage_from_body(body)
    if protocol is WireProtocol.OPENAI_CHAT:
        return openai.chat_usage_from_body(body)
    if protocol is WireProtocol.GEMINI:
        return gemini.usage_from_body(body)
    return openai.responses_usage_from_body(body)


def read_response_body(protocol: WireProtocol, body: bytes) -> tuple[Usage | None, str | None, int]:
    """A non-streamed (decompressed) response body's usage, its string `model` (the served
    model) and the characters it generated (`metering.body_output_chars`), parsing it once."""
    try:
        obj: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None, 0
    if not isinstance(obj, dict):
        return None, None, 0
    gemini_body = protocol is WireProtocol.GEMINI
    model = obj.get("modelVersion" if gemini_body else "model")
    raw = obj.get("usageMetadata" if gemini_body else "usage")
    usage: Usage | None = None
    if isinstance(raw, dict):
        if gemini_body:
            usage = gemini.usage_from_dict(raw)
        elif protocol is WireProtocol.ANTHROPIC_MESSAGES:
            usage = anthropic.usage_from_dict(raw)
        elif protocol is WireProtocol.OPENAI_CHAT:
            usage = openai.chat_usage_from_dict(raw)
        else:
            usage = openai.responses_usage_of(obj)
    chars = body_output_chars(protocol, obj)
    return usage, model if isinstance(model, str) else None, chars


def upstream_headers(
    provider: Provider,
    caller_headers: list[tuple[str, str]],
    *,
    api_key: str,
    body_decompressed: bool = False,
    long_context: bool = False,
    protocol: WireProtocol | None = None,
) -> list[tuple[str, str]]:
    """Headers to send to an upstream of `provider` in `protocol` (see `headers.py` for the
    rules). `long_context`: the model's price has long-context tiers, so `context-1m` may pass."""
    if provider is Provider.GEMINI:
        return gemini.upstream_headers(
            caller_headers, api_key=api_key, body_decompressed=body_decompressed
        )
    if provider is Provider.VERTEX and protocol is WireProtocol.GEMINI:
        # Gemini's headers without a key: the request carries a bearer token.
        headers = gemini.upstream_headers(
            caller_headers, api_key="", body_decompressed=body_decompressed
        )
        return [(k, v) for k, v in headers if k.lower() != "x-goog-api-key"]
    if provider in (Provider.BEDROCK, Provider.VERTEX):
        # Anthropic's headers without a key: the request is signed or carries a bearer token.
        headers = anthropic.upstream_headers(
            caller_headers,
            api_key="",
            body_decompressed=body_decompressed,
            long_context=long_context,
        )
        return [(k, v) for k, v in headers if k.lower() != "x-api-key"]
    if provider is Provider.AZURE_OPENAI:
        return azure.upstream_headers(
            caller_headers, api_key=api_key, body_decompressed=body_decompressed
        )
    if provider is Provider.ANTHROPIC:
        return anthropic.upstream_headers(
            caller_headers,
            api_key=api_key,
            body_decompressed=body_decompressed,
            long_context=long_context,
        )
    return openai.upstream_headers(
        caller_headers, api_key=api_key, body_decompressed=body_decompressed
    )


__all__ = [
    "AccountEffect",
    "ClientLimits",
    "FailureType",
    "Metered",
    "Provider",
    "RequestInfo",
    "StreamUsageTap",
    "Timeouts",
    "UpstreamClient",
    "UpstreamFailure",
    "UpstreamResponse",
    "Usage",
    "WireProtocol",
    "anthropic",
    "azure",
    "bedrock",
    "classify_exception",
    "classify_response",
    "classify_stream_error",
    "estimate_input_tokens",
    "gemini",
    "inspect_request",
    "make_tap",
    "meter",
    "openai",
    "read_response_body",
    "rewrite_request",
    "upstream_headers",
    "usage_from_body",
    "vertex",
]
