"""Anthropic Messages streams: events read into neutral stream events, and written from them."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

from spectra.providers.types import Usage

from .common import (
    anthropic_id,
    anthropic_stop,
    anthropic_usage,
    error_from_anthropic,
    openai_signature,
    truncated,
    usage_from_anthropic,
)
from .ir import BlockStart, BlockStop, Delta, End, Failure, Start, StreamEvent, Templated

_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "overloaded_error": 529,
}
_DELTAS = {
    "text_delta": ("text", "text"),
    "input_json_delta": ("args", "partial_json"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("opaque", "signature"),
}

_PLAIN_DELTAS = {k: v for k, v in _DELTAS.items() if k != "signature_delta"}


class AnthropicDecoder:
    """Reads an upstream Anthropic stream, one event's JSON data at a time."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._skipped: set[int] = set()
        self._started = False
        self._ended = False

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        if kind == "message_start":
            msg = event.get("message") or {}
            self._started = True
            self.usage = usage_from_anthropic(msg.get("usage"))
            return [Start(str(msg.get("id") or ""), str(msg.get("model") or ""), self.usage)]
        index = event.get("index")
        if kind == "content_block_start" and isinstance(index, int):
            return self._block_start(index, event.get("content_block") or {})
        if kind == "content_block_delta" and isinstance(index, int) and index not in self._skipped:
            delta = event.get("delta") or {}
            if delta.get("type") not in _DELTAS:
                return []
            ir_kind, key = _DELTAS[delta["type"]]
            return [Delta(index, ir_kind, str(delta.get(key) or ""), "anthropic")]  # type: ignore[arg-type]
        if kind == "content_block_stop" and isinstance(index, int) and index not in self._skipped:
            return [BlockStop(index)]
        if kind == "message_delta":
            return self._message_delta(event)
        if kind == "error":
            self._ended = True
            err = error_from_anthropic(0, event)
            return [Failure(dataclasses.replace(err, status=_STATUS_OF_TYPE.get(err.type, 500)))]
        return []

    def delta_of(self, event: dict[str, Any]) -> tuple[int, str, str] | None:
        """`(index, kind, value)` when `event` is a text, arguments or thinking delta that
        `feed` would read as just that `Delta`; None for anything else (then call `feed`)."""
        if event.get("type") != "content_block_delta":
            return None
        index, delta = event.get("index"), event.get("delta")
        if not isinstance(index, int) or index in self._skipped or not isinstance(delta, dict):
            return None
        kind = delta.get("type")
        field = _PLAIN_DELTAS.get(kind) if isinstance(kind, str) else None
        value = None if field is None else delta.get(field[1])
        return (index, field[0], value) if field is not None and isinstance(value, str) else None

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block.get("type")
        if kind == "text":
            out: list[StreamEvent] = [BlockStart(index, "text")]
            if block.get("text"):
                out.append(Delta(index, "text", block["text"]))
            return out
        if kind == "tool_use":
            out = [BlockStart(index, "tool", str(block.get("id")), str(block.get("name")))]
            if block.get("input"):
                out.append(Delta(index, "args", json.dumps(block["input"])))
            return out
        if kind == "thinking":
            return [BlockStart(index, "reasoning")]
        if kind == "redacted_thinking":
            return [BlockStart(index, "reasoning", redacted_data=str(block.get("data") or ""))]
        self._skipped.add(index)
        return []

    def _message_delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        raw = event.get("usage")
        if isinstance(raw, dict):
            # counts given here replace those of `message_start` (the only other source of
            # `self.usage`, which sets just these four)
            base = self.usage or Usage()

            def count(key: str, old: int) -> int:
                value = raw.get(key)
                return value if isinstance(value, int) else old

            self.usage = Usage(
                input_tokens=count("input_tokens", base.input_tokens),
                output_tokens=count("output_tokens", base.output_tokens),
                cache_read_tokens=count("cache_read_input_tokens", base.cache_read_tokens),
                cache_write_tokens=count("cache_creation_input_tokens", base.cache_write_tokens),
            )
        delta = event.get("delta") or {}
        self._ended = True
        stop_sequence = delta.get("stop_sequence")
        return [
            End(
                anthropic_stop(delta.get("stop_reason")),
                self.usage,
                stop_sequence if isinstance(stop_sequence, str) else None,
            )
        ]

    def finish(self) -> list[StreamEvent]:
        if self._started and not self._ended:
            self._ended = True
            return [truncated()]
        return []


_DELTA_FIELDS = {
    "text": ("text_delta", "text"),
    "args": ("input_json_delta", "partial_json"),
    "thinking": ("thinking_delta", "thinking"),
}
"""Delta kinds whose events differ only in one string (see `Templated`)."""
_DELTA_NAMES = dict(_DELTA_FIELDS.values())


class AnthropicEncoder:
    """Writes neutral stream events as the Anthropic Messages stream the anthropic SDK reads."""

    def __init__(self) -> None:
        self._index: dict[int, int] = {}

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if isinstance(event, Start):
            message: dict[str, Any] = {
                "id": event.id,
                "type": "message",
                "role": "assistant",
                "model": event.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": anthropic_usage(event.usage or Usage()),
            }
            return [{"type": "message_start", "message": message}]
        if isinstance(event, BlockStart):
            index = self._index[event.index] = len(self._index)
            return [{"type": "content_block_start", "index": index, "content_block": _block(event)}]
        if isinstance(event, Delta):
            if event.index not in self._index:
                return []
            key = self.delta_key(event.index, event.kind)
            if key is not None:
                return [Templated(key, event.value, functools.partial(self.delta_event, key))]
            index = self._index[event.index]
            return [{"type": "content_block_delta", "index": index, "delta": _delta(event)}]
        if isinstance(event, BlockStop):
            if event.index not in self._index:
                return []
            return [{"type": "content_block_stop", "index": self._index[event.index]}]
        if isinstance(event, End):
            delta = {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence}
            usage = anthropic_usage(event.usage or Usage())
            return [
                {"type": "message_delta", "delta": delta, "usage": usage},
                {"type": "message_stop"},
            ]
        error = event.error
        return [{"type": "error", "error": {"type": error.type, "message": error.message}}]

    def delta_key(self, index: int, kind: str) -> tuple[int, str] | None:
        """The template key of a text, arguments or thinking delta into upstream block `index`
        (events with one key differ only in their string, see `Templated`), or None."""
        position = self._index.get(index)
        field = _DELTA_FIELDS.get(kind)
        return None if position is None or field is None else (position, field[0])

    @staticmethod
    def delta_event(key: tuple[Any, ...], value: str) -> dict[str, Any]:
        """The delta event of `delta_key` `key` carrying `value`."""
        position, kind = key
        return {
            "type": "content_block_delta",
            "index": position,
            "delta": {"type": kind, _DELTA_NAMES[kind]: value},
        }

    def finish(self) -> list[dict[str, Any]]:
        return []


def _block(event: BlockStart) -> dict[str, Any]:
    if event.kind == "text":
        return {"type": "text", "text": ""}
    if event.kind == "tool":
        return {
            "type": "tool_use",
            "id": anthropic_id(event.call_id),
            "name": event.name,
            "input": {},
        }
    if event.redacted_data is not None:
        return {"type": "redacted_thinking", "data": event.redacted_data}
    return {"type": "thinking", "thinking": "", "signature": ""}


def _delta(event: Delta) -> dict[str, Any]:
    if event.kind == "text":
        return {"type": "text_delta", "text": event.value}
    if event.kind == "args":
        return {"type": "input_json_delta", "partial_json": event.value}
    if event.kind == "thinking":
        return {"type": "thinking_delta", "thinking": event.value}
    signature = event.value
    if event.origin == "openai":
        signature = openai_signature(event.item_id or "", event.value)
    return {"type": "signature_delta", "signature": signature}
