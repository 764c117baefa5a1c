"""Anthropic Messages wire details: upstream headers, usage from bodies and streams.

Anthropic's `input_tokens` already excludes cache reads (`cache_read_input_tokens`) and
cache writes (`cache_creation_input_tokens`), so its usage maps onto `Usage` one to one.
Cache writes by lifetime come in `cache_creation.ephemeral_5m_input_tokens` /
`ephemeral_1h_input_tokens` (Bedrock and Vertex report the same); `types.cache_writes` states
the rule when they disagree with the total. Server-side web searches:
`server_tool_use.web_search_requests` (billed per call; web fetch has no per-call fee).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .headers import ANTHROPIC_REQUEST, forward_request_headers, header_value
from .metering import body_field
from .scan import MESSAGES_TEXT_DELTA
from .sse import SSEEvent
from .taps import StreamUsageTap
from .types import Usage, cache_writes, token_count

DEFAULT_VERSION = "2023-06-01"


def upstream_headers(
    caller_headers: Iterable[tuple[str, str]],
    *,
    api_key: str,
    body_decompressed: bool = False,
    long_context: bool = False,
) -> list[tuple[str, str]]:
    """The caller's allowed headers (headers.py), plus `x-api-key`; `anthropic-version` passes
    unchanged (default 2023-06-01), `anthropic-beta` keeps its priced features."""
    headers = forward_request_headers(
        caller_headers,
        ANTHROPIC_REQUEST,
        body_decompressed=body_decompressed,
        long_context=long_context,
    )
    if header_value(headers, "anthropic-version") is None:
        headers.append(("anthropic-version", DEFAULT_VERSION))
    headers.append(("x-api-key", api_key))
    return headers


_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _counts(usage: Mapping[str, Any], anomalies: list[str]) -> list[int | None]:
    return [token_count(usage.get(name), name, anomalies) for name in _FIELDS]


def write_breakdown(usage: Mapping[str, Any], anomalies: list[str]) -> tuple[int | None, ...]:
    """(5-minute, 1-hour) cache-write counts from `usage.cache_creation`, None when absent."""
    creation = usage.get("cache_creation")
    if not isinstance(creation, dict):
        return None, None
    return tuple(
        token_count(creation.get(name), name, anomalies)
        for name in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
    )


def web_searches(usage: Mapping[str, Any], anomalies: list[str]) -> int | None:
    """`server_tool_use.web_search_requests`, None when absent."""
    tools = usage.get("server_tool_use")
    if not isinstance(tools, dict):
        return None
    return token_count(tools.get("web_search_requests"), "web_search_requests", anomalies)


def usage_from_dict(usage: Mapping[str, Any]) -> Usage:
    anomalies: list[str] = []
    input_tokens, output_tokens, cache_read, reported_write = _counts(usage, anomalies)
    cache_write, write_1h = cache_writes(reported_write, *write_breakdown(usage, anomalies))
    return Usage(
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cache_read or 0,
        cache_write_tokens=cache_write or 0,
        cache_write_1h_tokens=write_1h,
        web_search_calls=web_searches(usage, anomalies) or 0,
        input_missing=input_tokens is None,
        output_missing=output_tokens is None,
        anomalies=tuple(anomalies),
    )


def usage_from_body(body: bytes) -> Usage | None:
    """Usage of a non-streamed Messages response, or None when it carries none."""
    usage = body_field(body, "usage")
    return usage_from_dict(usage) if isinstance(usage, dict) else None


def model_from_body(body: bytes) -> str | None:
    model = body_field(body, "model")
    return model if isinstance(model, str) else None


class AnthropicMessagesTap(StreamUsageTap):
    """Usage from `message_start.message.usage`, then each `message_delta.usage` (whose
    `output_tokens` is cumulative); per field the latest non-null value wins."""

    def on_event(self, event: SSEEvent) -> bool:
        name = event.event
        if name == "content_block_delta" or not name:
            delta = MESSAGES_TEXT_DELTA(event.data)  # most events: no parse (scan.py)
            if delta is not None:
                text = delta.group(1)
                if text:
                    self.saw_output = True
                    self.output_chars += len(text)
                return False
        return name != "ping" and super().on_event(event)

    def on_parsed(self, event: SSEEvent, obj: object) -> bool:
        name = event.event
        if name == "ping" or not isinstance(obj, dict):
            return False
        if not name:
            kind = obj.get("type")
            name = kind if isinstance(kind, str) else ""
        if name == "content_block_delta":
            self._on_delta(obj.get("delta"))
        elif name == "message_start":
            message = obj.get("message")
            if isinstance(message, dict):
                model = message.get("model")
                if isinstance(model, str):
                    self.model = model
                self._take_usage(message.get("usage"))
        elif name == "message_delta":
            self._take_usage(obj.get("usage"))
        elif name == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, dict) and block.get("type") not in ("text", "thinking"):
                self.saw_output = True
                tool_name = block.get("name")
                if isinstance(tool_name, str):
                    self.output_chars += len(tool_name)
        elif name == "message_stop":
            self.finished = True
        elif name == "error":
            self.error = obj
        return False

    def _on_delta(self, delta: Any) -> None:
        if not isinstance(delta, dict):
            return
        for key in ("text", "thinking", "partial_json"):
            value = delta.get(key)
            if isinstance(value, str):
                if value:
                    self.saw_output = True
                    self.output_chars += len(value)
                return
        if delta.get("type") == "signature_delta":
            self.saw_output = True

    def _take_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        counts = _counts(usage, self.anomalies)
        input_tokens, output_tokens, cache_read, cache_write = counts
        five_m, one_h = write_breakdown(usage, self.anomalies)
        self._set_usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read=cache_read,
            cache_write=cache_write,
            cache_write_5m=five_m,
            cache_write_1h=one_h,
            web_searches=web_searches(usage, self.anomalies),
        )
        # A count sent but not a count makes that class unknown (estimated), not the
        # earlier event's value (`message_start` says output_tokens: 1).
        if usage.get("input_tokens") is not None and input_tokens is None:
            self._input = None
        if usage.get("output_tokens") is not None and output_tokens is None:
            self._output = None
