"""Streamed answers translated event by event: upstream decoder -> tool adapter -> client encoder
(`sse_stream.SSEStreamTranslator` runs it over raw SSE bytes)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from spectra.providers.types import Usage, WireProtocol

from .anthropic_stream import AnthropicDecoder, AnthropicEncoder
from .chat_stream import ChatDecoder, ChatEncoder
from .common import SHAPE_ERRORS
from .context import TranslationContext
from .custom_text import InputTextDecoder
from .gemini_stream import GeminiDecoder, GeminiEncoder
from .ir import BlockStart, BlockStop, Delta, StreamEvent
from .responses_encoder import ResponsesEncoder
from .responses_stream import ResponsesDecoder
from .sse_text import Templates, named_events, sse_text


class _Decoder(Protocol):
    usage: Usage | None

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...
    def delta_of(self, event: dict[str, Any]) -> tuple[int, str, str] | None: ...


class _Encoder(Protocol):
    def feed(self, event: StreamEvent) -> list[dict[str, Any]]: ...
    def finish(self) -> list[dict[str, Any]]: ...


class _ToolAdapter:
    """Renames upstream tool calls to the caller's tools and converts, delta by delta, between
    a custom tool's free text and its `{"input": ...}` function stand-in."""

    def __init__(self, ctx: TranslationContext) -> None:
        self._ctx = ctx
        self.mode: dict[int, str] = {}
        """How each upstream block's tool call is rewritten, by block index."""
        self._decoders: dict[int, InputTextDecoder] = {}
        self._wrapped: set[int] = set()

    def apply(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, BlockStart) and event.kind == "tool":
            namespace, name, custom = self._ctx.client_tool(event.name)
            if custom != event.custom:
                self.mode[event.index] = "unwrap" if custom else "wrap"
                if custom:
                    self._decoders[event.index] = InputTextDecoder()
            return [dataclasses.replace(event, name=name, custom=custom, namespace=namespace)]
        mode = self.mode.get(getattr(event, "index", -1))
        if mode is None:
            return [event]
        if isinstance(event, Delta) and event.kind == "args":
            if mode == "unwrap":
                text = self._decoders[event.index].feed(event.value)
                return [dataclasses.replace(event, value=text)] if text else []
            escaped = json.dumps(event.value, ensure_ascii=False)[1:-1]
            if event.index not in self._wrapped:
                self._wrapped.add(event.index)
                escaped = '{"input": "' + escaped
            return [dataclasses.replace(event, value=escaped)]
        if isinstance(event, BlockStop):
            del self.mode[event.index]
            if mode == "unwrap":
                rest = self._decoders.pop(event.index).finish()
                return [Delta(event.index, "args", rest), event] if rest else [event]
            tail = '"}' if event.index in self._wrapped else '{"input": ""}'
            self._wrapped.discard(event.index)
            return [Delta(event.index, "args", tail), event]
        return [event]


def _decoder(protocol: WireProtocol) -> _Decoder:
    if protocol is WireProtocol.ANTHROPIC_MESSAGES:
        return AnthropicDecoder()
    if protocol is WireProtocol.OPENAI_CHAT:
        return ChatDecoder()
    if protocol is WireProtocol.GEMINI:
        return GeminiDecoder()
    return ResponsesDecoder()


def _encoder(ctx: TranslationContext) -> _Encoder | ResponsesEncoder:
    if ctx.client is WireProtocol.ANTHROPIC_MESSAGES:
        return AnthropicEncoder()
    if ctx.client is WireProtocol.OPENAI_CHAT:
        return ChatEncoder(ctx)
    if ctx.client is WireProtocol.GEMINI:
        return GeminiEncoder()
    return ResponsesEncoder(ctx)


class StreamTranslator:
    """Translates one streamed answer from `ctx.upstream` to `ctx.client`.

    Feed each upstream event's parsed JSON `data`; each call returns the client events it
    completes (possibly none), in order, as JSON-ready dicts (`feed_sse`: as SSE text). Call
    `finish()` at the end of the upstream stream (a chat `[DONE]`, or the connection closing):
    it closes what is open, or reports a truncated stream as an error event. `usage` is the
    upstream's own usage so far, for billing.

    A Responses client's encoder writes SSE text itself (`ResponsesEncoder`); its dicts are
    that text parsed back.
    """

    def __init__(self, ctx: TranslationContext) -> None:
        self.decoder = _decoder(ctx.upstream)
        self.adapter = _ToolAdapter(ctx)
        encoder = _encoder(ctx)
        self.encoder = encoder if not isinstance(encoder, ResponsesEncoder) else None
        self.writer = encoder if isinstance(encoder, ResponsesEncoder) else None
        self.templates: Templates = {}
        """`Templated` events' templates, for this stream's SSE text."""
        self._named = named_events(ctx.client)
        self._chat = ctx.client is WireProtocol.OPENAI_CHAT

    @property
    def usage(self) -> Usage | None:
        return self.decoder.usage

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return self._dicts(self._decoded(event))

    def finish(self) -> list[dict[str, Any]]:
        if self.encoder is None:
            return self._dicts(self.decoder.finish())
        return self._dicts(self.decoder.finish()) + self.encoder.finish()

    def feed_sse(self, event: dict[str, Any]) -> str:
        """`feed`'s client events as SSE text."""
        return self._sse(self._decoded(event))

    def finish_sse(self) -> str:
        """`finish`'s client events as SSE text, and a chat stream's `[DONE]`."""
        if self.writer is None:
            return sse_text(self._named, self.finish(), True, self.templates, chat=self._chat)
        return self._sse(self.decoder.finish()) + self.writer.finish()

    def _decoded(self, event: dict[str, Any]) -> list[StreamEvent]:
        try:
            return self.decoder.feed(event)
        except SHAPE_ERRORS:
            return []  # an upstream event of the wrong shape carries nothing we can pass on

    def _dicts(self, events: list[StreamEvent]) -> list[dict[str, Any]]:
        if self.encoder is None:
            return _parsed(self._sse(events))
        out: list[dict[str, Any]] = []
        apply, feed = self.adapter.apply, self.encoder.feed
        for event in events:
            for adapted in apply(event):
                out.extend(feed(adapted))
        return out

    def _sse(self, events: list[StreamEvent]) -> str:
        if self.writer is None:
            return sse_text(
                self._named, self._dicts(events), False, self.templates, chat=self._chat
            )
        apply, write = self.adapter.apply, self.writer.feed
        return "".join([write(adapted) for event in events for adapted in apply(event)])


def _parsed(text: str) -> list[dict[str, Any]]:
    """SSE text's events' JSON data."""
    return [json.loads(block.partition("data: ")[2]) for block in text.split("\n\n") if block]
