"""OpenAI wire details (chat completions and Responses; also OpenAI-compatible upstreams).

Normalisation: OpenAI's `prompt_tokens` (chat) and `input_tokens` (Responses) INCLUDE the
cached tokens reported in `*_tokens_details.cached_tokens`. `Usage.input_tokens` holds only
the uncached part and `Usage.cache_read_tokens` the cached part. OpenAI does not bill cache
writes, so `cache_write_tokens` is 0. DeepSeek-style `prompt_cache_hit_tokens` is read
when no details are given. Reasoning tokens are part of `completion_tokens`/`output_tokens`.

Server-side web searches (Responses): each `web_search_call` item in the response's `output` is
one call, billed per call (`Usage.web_search_calls`; the stream's final `response` carries the
same items).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .headers import OPENAI_REQUEST, forward_request_headers
from .metering import body_field
from .scan import CHAT_TEXT_DELTA, RESPONSES_TEXT_DELTA
from .sse import SSEEvent, SSEParser
from .taps import StreamUsageTap
from .types import Usage, token_count, usage_cached_within_input


def upstream_headers(
    caller_headers: Iterable[tuple[str, str]], *, api_key: str, body_decompressed: bool = False
) -> list[tuple[str, str]]:
    """The caller's allowed headers (headers.py), plus `Authorization: Bearer <account key>`."""
    headers = forward_request_headers(
        caller_headers, OPENAI_REQUEST, body_decompressed=body_decompressed
    )
    headers.append(("Authorization", f"Bearer {api_key}"))
    return headers


def _cached(usage: Mapping[str, Any], details_key: str, anomalies: list[str]) -> int | None:
    details = usage.get(details_key)
    if isinstance(details, dict) and details.get("cached_tokens") is not None:
        return token_count(details.get("cached_tokens"), "cached_tokens", anomalies)
    return token_count(usage.get("prompt_cache_hit_tokens"), "prompt_cache_hit_tokens", anomalies)


def _usage(usage: Mapping[str, Any], input_key: str, output_key: str, details: str) -> Usage:
    anomalies: list[str] = []
    return usage_cached_within_input(
        token_count(usage.get(input_key), input_key, anomalies),
        _cached(usage, details, anomalies),
        token_count(usage.get(output_key), output_key, anomalies),
        anomalies,
    )


def chat_usage_from_dict(usage: Mapping[str, Any]) -> Usage:
    return _usage(usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details")


def responses_usage_from_dict(usage: Mapping[str, Any]) -> Usage:
    return _usage(usage, "input_tokens", "output_tokens", "input_tokens_details")


def _body_usage(body: bytes) -> dict[str, Any] | None:
    usage = body_field(body, "usage")
    return usage if isinstance(usage, dict) else None


def chat_usage_from_body(body: bytes) -> Usage | None:
    usage = _body_usage(body)
    return chat_usage_from_dict(usage) if usage is not None else None


def web_search_calls(response: Mapping[str, Any]) -> int:
    """The `web_search_call` items of a Responses `response` object."""
    output = response.get("output")
    if not isinstance(output, list):
        return 0
    return sum(
        1 for item in output if isinstance(item, dict) and item.get("type") == "web_search_call"
    )


def responses_usage_of(response: Mapping[str, Any]) -> Usage | None:
    """The usage of a parsed Responses `response` object (its web search calls counted)."""
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return None
    parsed = responses_usage_from_dict(usage)
    searches = web_search_calls(response)
    return replace(parsed, web_search_calls=searches) if searches else parsed


def responses_usage_from_body(body: bytes) -> Usage | None:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return responses_usage_of(obj) if isinstance(obj, dict) else None


class OpenAIChatTap(StreamUsageTap):
    """Chat chunks; usage arrives on the final `choices: []` chunk (include_usage), or on
    every chunk for some compatible servers (the latest wins). `[DONE]` finishes."""

    def on_event(self, event: SSEEvent) -> bool:
        data = event.data
        if data == "[DONE]":
            self.finished = True
            return False
        delta = CHAT_TEXT_DELTA(data)  # most events: their text's length without a parse
        if delta is not None:
            model, text = delta.groups()
            if text:
                self.saw_output = True
                self.output_chars += len(text)
            if self.model is None and model:
                self.model = model
            return False
        try:
            obj = json.loads(data)
        except ValueError:
            return False
        return self.on_parsed(event, obj)

    def on_parsed(self, event: SSEEvent, obj: object) -> bool:
        if not isinstance(obj, dict):
            return False
        if self.model is None:
            model = obj.get("model")
            if isinstance(model, str) and model:
                self.model = model
        choices = obj.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    self._on_delta(choice.get("delta"))
        error = obj.get("error")
        if isinstance(error, dict):
            self.error = obj
        usage = obj.get("usage")
        if not isinstance(usage, dict):
            return False
        self.take_usage(chat_usage_from_dict(usage))
        return choices == []

    def _on_delta(self, delta: Any) -> None:
        if not isinstance(delta, dict):
            return
        for key in ("content", "reasoning_content", "reasoning", "refusal"):
            value = delta.get(key)
            if isinstance(value, str) and value:
                self.saw_output = True
                self.output_chars += len(value)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for call in tool_calls:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    self.saw_output = True
                    for key in ("name", "arguments"):
                        value = function.get(key)
                        if isinstance(value, str):
                            self.output_chars += len(value)


_RESPONSES_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
    }
)
_RESPONSES_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class OpenAIResponsesTap(StreamUsageTap):
    """Responses events; `response.completed` / `.incomplete` / `.failed` carry
    `response.usage` and end the stream."""

    def on_event(self, event: SSEEvent) -> bool:
        delta = RESPONSES_TEXT_DELTA(event.data)  # most events: no parse (scan.py)
        if delta is None:
            return super().on_event(event)
        text = delta.group(2)
        if text:
            self.saw_output = True
            self.output_chars += len(text)
        return False

    def on_parsed(self, event: SSEEvent, obj: object) -> bool:
        if not isinstance(obj, dict):
            return False
        kind = obj.get("type")
        name = kind if isinstance(kind, str) else event.event
        if name in _RESPONSES_DELTAS:
            delta = obj.get("delta")
            if isinstance(delta, str) and delta:
                self.saw_output = True
                self.output_chars += len(delta)
        elif name == "response.output_item.added":
            item = obj.get("item")
            if isinstance(item, dict) and item.get("type") not in ("message", "reasoning"):
                self.saw_output = True
                tool_name = item.get("name")
                if isinstance(tool_name, str):
                    self.output_chars += len(tool_name)
        elif name in _RESPONSES_ENDS or name in ("response.created", "response.in_progress"):
            self._on_response(obj.get("response"))
            if name in _RESPONSES_ENDS:
                self.finished = True
                if name == "response.failed":
                    response = obj.get("response")
                    error = response.get("error") if isinstance(response, dict) else None
                    if isinstance(error, dict):
                        self.error = {"error": error}
        elif name == "error":
            self.error = obj
        return False

    def _on_response(self, response: Any) -> None:
        if not isinstance(response, dict):
            return
        model = response.get("model")
        if isinstance(model, str) and model:
            self.model = model
        usage = response.get("usage")
        if isinstance(usage, dict):
            self.take_usage(responses_usage_from_dict(usage))
        searches = web_search_calls(response)
        if searches:
            self._web_searches = searches


class OpenAIChatStreamFilter:
    """Relay a chat stream, tapping usage, and optionally withhold the usage-only chunk.

    Use it when the gateway added `stream_options.include_usage` for a caller that did not
    ask (`withhold_usage=True`): `feed` returns the bytes to forward, which are the input
    bytes minus exactly that event's block. Bytes are released at event boundaries, so an
    incomplete event is held until its blank line arrives (never longer). With
    `withhold_usage=False` every byte is returned at once, unchanged.
    """

    __slots__ = ("_parser", "_pending", "_pending_start", "_withhold", "tap")

    def __init__(self, *, withhold_usage: bool) -> None:
        self.tap = OpenAIChatTap()
        self._withhold = withhold_usage
        self._parser = SSEParser()
        self._pending = b""
        self._pending_start = 0

    def feed(self, chunk: bytes) -> bytes:
        events = self._parser.feed(chunk)
        if not self._withhold:
            for event in events:
                self.tap.on_event(event)
            return chunk
        return self._release(chunk, events, self._parser.boundary)

    def close(self) -> bytes:
        """End of stream: return whatever is still held (an unterminated last event)."""
        events = self._parser.close()
        if not self._withhold:
            for event in events:
                self.tap.on_event(event)
            return b""
        return self._release(b"", events, self._pending_start + len(self._pending))

    def _release(self, chunk: bytes, events: list[SSEEvent], boundary: int) -> bytes:
        pending = self._pending + chunk if self._pending else chunk
        base = self._pending_start
        out: list[bytes] = []
        cursor = 0
        for event in events:
            if self.tap.on_event(event):
                out.append(pending[cursor : event.start - base])
                cursor = event.end - base
        release = boundary - base
        if release > cursor:
            out.append(pending[cursor:release])
            cursor = release
        self._pending = pending[cursor:]
        self._pending_start = base + cursor
        return out[0] if len(out) == 1 else b"".join(out)
