"""OpenAI Chat Completions streams: chunks read into neutral stream events, and written from them."""

from __future__ import annotations

import functools
from typing import Any

from spectra.providers.types import Usage

from .common import (
    CHAT_FINISH,
    chat_stop,
    chat_usage,
    error_from_openai,
    openai_error,
    openai_id,
    truncated,
    usage_from_openai,
)
from .context import TranslationContext
from .ir import (
    BlockStart,
    BlockStop,
    Delta,
    End,
    Failure,
    Start,
    StopReason,
    StreamEvent,
    Templated,
)

_TEXT_BLOCK = ("text", -1)
_REASONING = ("reasoning", -1)


class ChatDecoder:
    """Reads an upstream chat stream chunk by chunk. Chat has no block boundaries, so a block
    opens at its first delta and closes when another kind of delta (or the finish) arrives."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._reasoning_tokens = 0
        self._open: tuple[str, int] | None = None
        self._blocks = 0
        self._tools: dict[int, int] = {}
        self._tool_ids: dict[int, object] = {}
        self._stop: StopReason | None = None
        self._started = False
        self._ended = False

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        if isinstance(chunk.get("error"), dict):
            self._ended = True
            return [Failure(error_from_openai(500, chunk))]
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(
                Start(
                    str(chunk.get("id") or ""),
                    str(chunk.get("model") or ""),
                    None,
                    int(chunk.get("created") or 0),
                )
            )
        choices = chunk.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += [*self._ensure("reasoning", -1), Delta(self._blocks - 1, "thinking", reasoning)]
        if isinstance(delta.get("content"), str) and delta["content"]:
            out += [*self._ensure("text", -1), Delta(self._blocks - 1, "text", delta["content"])]
        for call in delta.get("tool_calls") or []:
            out += self._tool_delta(call)
        if choice.get("finish_reason"):
            out += self._close()
            self._stop = chat_stop(choice["finish_reason"])
        if isinstance(chunk.get("usage"), dict):
            self.usage, self._reasoning_tokens = usage_from_openai(chunk["usage"])
            if self._stop is not None and not self._ended:
                self._ended = True
                out.append(End(self._stop, self.usage, reasoning_tokens=self._reasoning_tokens))
        return out

    def delta_of(self, chunk: dict[str, Any]) -> tuple[int, str, str] | None:
        """`(index, kind, value)` when `chunk` carries only more text, reasoning or arguments
        for the block already open, which `feed` would read as just that `Delta`; None for
        anything else (then call `feed`)."""
        choices = chunk.get("choices")
        if (
            not self._started
            or not isinstance(choices, list)
            or not choices
            or not isinstance(choices[0], dict)
            or isinstance(chunk.get("usage"), dict)
            or isinstance(chunk.get("error"), dict)
        ):
            return None
        choice = choices[0]
        delta = choice.get("delta")
        if choice.get("finish_reason") or not isinstance(delta, dict):
            return None
        content = delta.get("content")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        calls = delta.get("tool_calls")
        if isinstance(reasoning, str) and reasoning:
            if calls or (isinstance(content, str) and content) or self._open != _REASONING:
                return None
            return self._blocks - 1, "thinking", reasoning
        if isinstance(content, str) and content:
            return (
                None if calls or self._open != _TEXT_BLOCK else (self._blocks - 1, "text", content)
            )
        return self._arguments_of(calls)

    def _arguments_of(self, calls: object) -> tuple[int, str, str] | None:
        """The arguments delta of a lone call already open, as `delta_of` gives it."""
        if not isinstance(calls, list) or len(calls) != 1 or not isinstance(calls[0], dict):
            return None
        call = calls[0]
        fn, position, call_id = call.get("function"), call.get("index", 0), call.get("id")
        if not isinstance(fn, dict) or not isinstance(position, int) or position not in self._tools:
            return None
        arguments = fn.get("arguments")
        if (call_id and call_id != self._tool_ids[position]) or not isinstance(arguments, str):
            return None
        return (self._tools[position], "args", arguments) if arguments else None

    def _tool_delta(self, call: object) -> list[StreamEvent]:
        if not isinstance(call, dict):
            return []
        fn = call.get("function") or {}
        position, call_id = call.get("index", 0), call.get("id")
        out: list[StreamEvent] = []
        # a new id at a known index is a new call (servers that send no index use 0 for all)
        if position not in self._tools or (call_id and call_id != self._tool_ids.get(position)):
            out += self._close()
            self._tools[position] = self._blocks
            self._tool_ids[position] = call_id
            out.append(
                BlockStart(
                    self._blocks, "tool", str(call.get("id") or ""), str(fn.get("name") or "")
                )
            )
            self._open = ("tool", position)
            self._blocks += 1
        arguments = fn.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(Delta(self._tools[position], "args", arguments))
        return out

    def _ensure(self, kind: str, position: int) -> list[StreamEvent]:
        if self._open == (kind, position):
            return []
        out = self._close()
        out.append(BlockStart(self._blocks, kind))  # type: ignore[arg-type]
        self._open = (kind, position)
        self._blocks += 1
        return out

    def _close(self) -> list[StreamEvent]:
        if self._open is None:
            return []
        kind, position = self._open
        self._open = None
        return [BlockStop(self._tools[position] if kind == "tool" else self._blocks - 1)]

    def finish(self) -> list[StreamEvent]:
        if not self._started or self._ended:
            return []
        self._ended = True
        if self._stop is None:  # no finish_reason: the stream was cut
            return [*self._close(), truncated()]
        return [
            *self._close(),
            End(self._stop, self.usage, reasoning_tokens=self._reasoning_tokens),
        ]


_TEXT = ("text",)
_THINKING = ("thinking",)


class ChatEncoder:
    """Writes neutral stream events as the chunks the openai SDK's chat stream reads."""

    def __init__(self, ctx: TranslationContext) -> None:
        self._include_usage = ctx.include_usage
        self._created = ctx.created
        self._head: dict[str, Any] = {"object": "chat.completion.chunk"}
        self._tools: dict[int, int] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return self._head | {"choices": [choice]}

    def delta_key(self, index: int, kind: str) -> tuple[Any, ...] | None:
        """The template key of a text, thinking or arguments delta into upstream block `index`
        (chunks with one key differ only in their string, see `Templated`), or None when the
        delta writes nothing."""
        if kind == "text":
            return _TEXT
        if kind == "thinking":
            return _THINKING
        if kind == "args" and index in self._tools:
            return ("args", self._tools[index])
        return None

    def delta_event(self, key: tuple[Any, ...], value: str) -> dict[str, Any]:
        """The chunk of `delta_key` `key` carrying `value`."""
        if key[0] == "text":
            return self._chunk({"content": value})
        if key[0] == "thinking":
            return self._chunk({"reasoning_content": value})
        call = {"index": key[1], "function": {"arguments": value}}
        return self._chunk({"tool_calls": [call]})

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if isinstance(event, Start):
            self._head |= {
                "id": event.id,
                "model": event.model,
                "created": event.created or self._created,
            }
            return [self._chunk({"role": "assistant", "content": ""})]
        if isinstance(event, BlockStart):
            if event.kind != "tool":
                return []
            position = self._tools[event.index] = len(self._tools)
            call = {
                "index": position,
                "id": openai_id(event.call_id),
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if isinstance(event, Delta):
            key = self.delta_key(event.index, event.kind)
            if key is None:
                return []
            return [Templated(key, event.value, functools.partial(self.delta_event, key))]
        if isinstance(event, BlockStop):
            return []
        if isinstance(event, End):
            out = [self._chunk({}, CHAT_FINISH[event.stop_reason])]
            if self._include_usage:
                usage = chat_usage(event.usage or Usage(), event.reasoning_tokens)
                out.append(self._head | {"choices": [], "usage": usage})
            return out
        _, body = openai_error(event.error)
        return [body]

    def finish(self) -> list[dict[str, Any]]:
        return []
