"""Gemini streams (`:streamGenerateContent?alt=sse`): each event is a whole
GenerateContentResponse chunk. Read into neutral stream events, and written from them."""

from __future__ import annotations

from typing import Any

from spectra.providers.types import Usage

from .common import truncated
from .gemini_common import (
    FINISH_OF_STOP,
    error_from_gemini,
    gemini_error,
    gemini_stop,
    gemini_usage,
    read_call,
    usage_from_gemini,
    write_call,
)
from .ir import (
    BlockStart,
    BlockStop,
    Delta,
    End,
    Failure,
    Start,
    StopReason,
    StreamEvent,
)


class GeminiDecoder:
    """Reads an upstream Gemini stream chunk by chunk. Text and thought parts extend an open
    block of their kind; a function call arrives whole, so it is a block of its own. The
    chunk with a `finishReason` ends the answer (its `usageMetadata` is the final count)."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._thoughts = 0
        self._open: str | None = None
        self._blocks = 0
        self._calls = 0
        self._started = False
        self._ended = False

    def delta_of(self, chunk: dict[str, Any]) -> tuple[int, str, str] | None:
        """Always None: a Gemini chunk may carry several parts, usage and a finish reason at
        once, so every chunk takes the general path (`feed`)."""
        return None

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        if self._ended:
            return []
        if isinstance(chunk.get("error"), dict):
            self._ended = True
            return [Failure(error_from_gemini(0, chunk))]
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            model = str(chunk.get("modelVersion") or "")
            out.append(Start(str(chunk.get("responseId") or ""), model))
        if isinstance(chunk.get("usageMetadata"), dict):
            self.usage, self._thoughts = usage_from_gemini(chunk["usageMetadata"])
        candidates = chunk.get("candidates") or []
        candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        content = candidate.get("content") or {}
        for part in content.get("parts") or []:
            if isinstance(part, dict):
                out += self._part(part)
        feedback = chunk.get("promptFeedback")
        blocked = not candidates and isinstance(feedback, dict) and feedback.get("blockReason")
        finish = "SAFETY" if blocked else candidate.get("finishReason")
        if finish:
            out += self._close()
            self._ended = True
            stop = gemini_stop(finish, has_tool_call=self._calls > 0)
            out.append(End(stop, self.usage, reasoning_tokens=self._thoughts))
        return out

    def _part(self, part: dict[str, Any]) -> list[StreamEvent]:
        if isinstance(part.get("functionCall"), dict):
            call = read_call(part["functionCall"], self._calls)
            self._calls += 1
            closed = self._close()
            index = self._blocks
            self._blocks += 1
            return [
                *closed,
                BlockStart(index, "tool", call.id, call.name),
                Delta(index, "args", call.arguments),
                BlockStop(index),
            ]
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return []
        kind = "reasoning" if part.get("thought") is True else "text"
        out: list[StreamEvent] = []
        if self._open != kind:
            out += self._close()
            out.append(BlockStart(self._blocks, kind))  # type: ignore[arg-type]
            self._open = kind
            self._blocks += 1
        out.append(Delta(self._blocks - 1, "thinking" if kind == "reasoning" else "text", text))
        return out

    def _close(self) -> list[StreamEvent]:
        if self._open is None:
            return []
        self._open = None
        return [BlockStop(self._blocks - 1)]

    def finish(self) -> list[StreamEvent]:
        if not self._started or self._ended:
            return []
        self._ended = True
        return [*self._close(), truncated()]


class GeminiEncoder:
    """Writes neutral stream events as the chunks the google-genai SDK and Gemini CLI read.
    Text streams as it comes; a tool call is sent whole when its block closes, as Gemini
    does; the last chunk carries the finish reason and the usage."""

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._tools: dict[int, tuple[str, str]] = {}
        self._args: dict[int, list[str]] = {}

    def _chunk(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
        return {"candidates": [candidate], **self._head}

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if isinstance(event, Start):
            self._head = {"modelVersion": event.model, "responseId": event.id}
            return []
        if isinstance(event, BlockStart):
            if event.kind == "tool":
                self._tools[event.index] = (event.call_id, event.name)
                self._args[event.index] = []
            return []
        if isinstance(event, Delta):
            if event.kind == "text" and event.value:
                return [self._chunk([{"text": event.value}])]
            if event.kind == "thinking" and event.value:
                return [self._chunk([{"text": event.value, "thought": True}])]
            if event.kind == "args" and event.index in self._args:
                self._args[event.index].append(event.value)
            return []
        if isinstance(event, BlockStop):
            if event.index not in self._tools:
                return []
            call_id, name = self._tools.pop(event.index)
            args = "".join(self._args.pop(event.index))
            return [self._chunk([write_call(call_id, name, args)])]
        if isinstance(event, End):
            return [self._final(event.stop_reason, event.usage, event.reasoning_tokens)]
        _, body = gemini_error(event.error)
        return [body]

    def _final(self, stop: StopReason, usage: Usage | None, thoughts: int) -> dict[str, Any]:
        candidate = {"finishReason": FINISH_OF_STOP[stop], "index": 0}
        return {
            "candidates": [candidate],
            "usageMetadata": gemini_usage(usage or Usage(), thoughts),
            **self._head,
        }

    def finish(self) -> list[dict[str, Any]]:
        return []
