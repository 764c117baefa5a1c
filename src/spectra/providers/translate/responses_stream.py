"""OpenAI Responses streams read into neutral stream events (`responses_encoder` writes them)."""

from __future__ import annotations

from typing import Any

from spectra.providers.types import Usage

from .common import (
    error_from_openai,
    reasoning_from_encrypted,
    responses_stop,
    truncated,
    usage_from_openai,
)
from .ir import BlockStart, BlockStop, Delta, End, Failure, Start, StreamEvent
from .responses_request import flat_name

_TEXT_DELTAS = ("response.output_text.delta", "response.refusal.delta")
_ARG_DELTAS = ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta")
_THINKING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")


class ResponsesDecoder:
    """Reads an upstream Responses stream, one event's JSON data at a time."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._open: set[int] = set()
        self._args_seen: set[int] = set()
        self._tool_seen = False
        self._started = False
        self._ended = False

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        index = event.get("output_index")
        if kind in ("response.created", "response.in_progress") and not self._started:
            resp = event.get("response") or {}
            self._started = True
            return [
                Start(
                    str(resp.get("id") or ""),
                    str(resp.get("model") or ""),
                    None,
                    int(resp.get("created_at") or 0),
                )
            ]
        if kind == "response.output_item.added" and isinstance(index, int):
            return self._item_added(index, event.get("item") or {})
        opens_text = kind == "response.content_part.added" or kind in _TEXT_DELTAS
        if opens_text and isinstance(index, int) and index not in self._open:
            # a text part opens its block; some servers skip straight to the first delta
            self._open.add(index)
            opened: list[StreamEvent] = [BlockStart(index, "text")]
            if kind in _TEXT_DELTAS and event.get("delta"):
                opened.append(Delta(index, "text", str(event["delta"])))
            return opened
        if not isinstance(index, int) or (
            kind != "response.output_item.done" and index not in self._open
        ):
            return self._terminal(kind, event)
        if kind in _TEXT_DELTAS:
            return [Delta(index, "text", str(event.get("delta") or ""))]
        if kind in _ARG_DELTAS:
            self._args_seen.add(index)
            return [Delta(index, "args", str(event.get("delta") or ""))]
        if kind in _THINKING_DELTAS:
            return [Delta(index, "thinking", str(event.get("delta") or ""))]
        if kind == "response.reasoning_summary_part.added" and event.get("summary_index"):
            return [Delta(index, "thinking", "\n\n")]
        if kind == "response.output_item.done":
            return self._item_done(index, event.get("item") or {})
        return []

    def delta_of(self, event: dict[str, Any]) -> tuple[int, str, str] | None:
        """`(index, kind, value)` when `event` is a text, arguments or thinking delta into an
        open item, which `feed` would read as just that `Delta`; None for anything else (then
        call `feed`)."""
        kind, index, value = event.get("type"), event.get("output_index"), event.get("delta")
        if not isinstance(index, int) or index not in self._open or not isinstance(value, str):
            return None
        if kind in _TEXT_DELTAS:
            return index, "text", value
        if kind in _ARG_DELTAS:
            self._args_seen.add(index)
            return index, "args", value
        return (index, "thinking", value) if kind in _THINKING_DELTAS else None

    def _item_added(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call"):
            self._open.add(index)
            self._tool_seen = True
            name = flat_name(item.get("namespace"), str(item.get("name") or ""))
            return [
                BlockStart(
                    index, "tool", str(item.get("call_id") or ""), name, kind == "custom_tool_call"
                )
            ]
        if kind == "reasoning":
            self._open.add(index)
            return [BlockStart(index, "reasoning")]
        return []

    def _item_done(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        if index not in self._open:
            return []
        self._open.discard(index)
        out: list[StreamEvent] = []
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call") and index not in self._args_seen:
            value = item.get("arguments") if kind == "function_call" else item.get("input")
            if value:
                out.append(Delta(index, "args", str(value)))
        if kind == "reasoning" and item.get("encrypted_content"):
            reasoning = reasoning_from_encrypted("", item["encrypted_content"], item.get("id"))
            out.append(
                Delta(index, "opaque", reasoning.opaque or "", reasoning.origin, reasoning.item_id)
            )
        out.append(BlockStop(index))
        return out

    def _terminal(self, kind: object, event: dict[str, Any]) -> list[StreamEvent]:
        resp = event.get("response") or {}
        if kind in ("response.completed", "response.incomplete"):
            self._ended = True
            self.usage, reasoning_tokens = usage_from_openai(resp.get("usage"))
            stop = responses_stop(resp, has_tool_call=self._tool_seen)
            return [End(stop, self.usage, reasoning_tokens=reasoning_tokens)]
        if kind == "response.failed":
            self._ended = True
            error = resp.get("error") or {}
            code = str(error.get("code") or "")
            status = 429 if "rate_limit" in code else 500
            return [Failure(error_from_openai(status, {"error": error}))]
        if kind == "error":
            self._ended = True
            return [Failure(error_from_openai(500, {"error": event}))]
        return []

    def finish(self) -> list[StreamEvent]:
        if self._started and not self._ended:
            self._ended = True
            return [truncated()]
        return []
