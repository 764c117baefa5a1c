"""Gemini API wire details (Google AI Studio: `x-goog-api-key`, generateContent paths, usage).

Normalisation: `promptTokenCount` INCLUDES `cachedContentTokenCount`; `Usage.input_tokens`
holds the uncached part (plus `toolUsePromptTokenCount`) and `cache_read_tokens` the cached
part. Thinking (`thoughtsTokenCount`) is billed as output, beside `candidatesTokenCount`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from .headers import forward_request_headers
from .metering import body_field, gemini_output_chars
from .sse import SSEEvent
from .taps import StreamUsageTap
from .types import Usage, token_count, usage_cached_within_input

GEMINI_REQUEST = frozenset({"accept", "content-type", "user-agent", "x-goog-api-client"})
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"


def generate_path(model: str, *, stream: bool) -> str:
    """`/v1beta/models/{model}:generateContent`, or the SSE stream path."""
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{quote(model, safe='')}:{method}"


def upstream_headers(
    caller_headers: Iterable[tuple[str, str]], *, api_key: str, body_decompressed: bool = False
) -> list[tuple[str, str]]:
    """The caller's allowed headers plus the account's `x-goog-api-key`."""
    headers = forward_request_headers(
        caller_headers, GEMINI_REQUEST, body_decompressed=body_decompressed
    )
    headers.append(("x-goog-api-key", api_key))
    return headers


def usage_from_dict(usage: Mapping[str, Any]) -> Usage:
    anomalies: list[str] = []
    prompt = token_count(usage.get("promptTokenCount"), "promptTokenCount", anomalies)
    tool = token_count(usage.get("toolUsePromptTokenCount"), "toolUsePromptTokenCount", anomalies)
    cached = token_count(usage.get("cachedContentTokenCount"), "cachedContentTokenCount", anomalies)
    out = token_count(usage.get("candidatesTokenCount"), "candidatesTokenCount", anomalies)
    thoughts = token_count(usage.get("thoughtsTokenCount"), "thoughtsTokenCount", anomalies)
    total_input = None if prompt is None else prompt + (tool or 0)
    output = None if out is None and thoughts is None else (out or 0) + (thoughts or 0)
    return usage_cached_within_input(
        total_input,
        cached,
        output,
        anomalies,
        cached_name="cachedContentTokenCount",
        input_name="prompt",
    )


def usage_from_body(body: bytes) -> Usage | None:
    usage = body_field(body, "usageMetadata")
    return usage_from_dict(usage) if isinstance(usage, dict) else None


class GeminiTap(StreamUsageTap):
    """Gemini SSE chunks: each may carry `usageMetadata` (cumulative; the latest wins); the
    chunk with a `finishReason` finishes the stream."""

    def on_parsed(self, event: SSEEvent, obj: object) -> bool:
        if not isinstance(obj, dict):
            return False
        model = obj.get("modelVersion")
        if self.model is None and isinstance(model, str) and model:
            self.model = model
        chars = gemini_output_chars(obj)
        if chars:
            self.saw_output = True
            self.output_chars += chars
        if isinstance(obj.get("error"), dict):
            self.error = obj
        usage = obj.get("usageMetadata")
        if isinstance(usage, dict):
            self.take_usage(usage_from_dict(usage))
        candidates = obj.get("candidates")
        if isinstance(candidates, list) and any(
            isinstance(c, dict) and c.get("finishReason") for c in candidates
        ):
            self.finished = True
        return False
