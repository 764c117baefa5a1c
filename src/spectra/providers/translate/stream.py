"""Streamed answers translated event by event: upstream decoder -> tool adapter -> client encoder."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any, Protocol

from spectra.providers.sse import SSEEvent, SSEParser
from spectra.providers.types import Usage, WireProtocol

from .anthropic_stream import AnthropicDecoder, AnthropicEncoder
from .chat_stream import ChatDecoder, ChatEncoder
from .common import SHAPE_ERRORS
from .context import TranslationContext
from .custom_text import InputTextDecoder
from .gemini_stream import GeminiDecoder, GeminiEncoder
from .ir import BlockStart, BlockStop, Delta, StreamEvent, Templated
from .responses_stream import ResponsesDecoder, ResponsesEncoder


class _Decoder(Protocol):
    usage: Usage | None

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...


class _Encoder(Protocol):
    def feed(self, event: StreamEvent) -> list[dict[str, Any]]: ...
    def finish(self) -> list[dict[str, Any]]: ...


class _ToolAdapter:
    """Renames upstream tool calls to the caller's tools and converts, delta by delta, between
    a custom tool's free text and its `{"input": ...}` function stand-in."""

    def __init__(self, ctx: TranslationContext) -> None:
        self._ctx = ctx
        self._mode: dict[int, str] = {}
        self._decoders: dict[int, InputTextDecoder] = {}
        self._wrapped: set[int] = set()

    def apply(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, BlockStart) and event.kind == "tool":
            namespace, name, custom = self._ctx.client_tool(event.name)
            if custom != event.custom:
                self._mode[event.index] = "unwrap" if custom else "wrap"
                if custom:
                    self._decoders[event.index] = InputTextDecoder()
            return [dataclasses.replace(event, name=name, custom=custom, namespace=namespace)]
        mode = self._mode.get(getattr(event, "index", -1))
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
            del self._mode[event.index]
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


def _encoder(ctx: TranslationContext) -> _Encoder:
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
    completes (possibly none), in order, as JSON-ready dicts. Call `finish()` at the end of
    the upstream stream (a chat `[DONE]`, or the connection closing): it closes what is open,
    or reports a truncated stream as an error event. `usage` is the upstream's own usage so
    far, for billing.
    """

    def __init__(self, ctx: TranslationContext) -> None:
        self._decoder = _decoder(ctx.upstream)
        self._adapter = _ToolAdapter(ctx)
        self._encoder = _encoder(ctx)

    @property
    def usage(self) -> Usage | None:
        return self._decoder.usage

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            events = self._decoder.feed(event)
        except SHAPE_ERRORS:
            return []  # an upstream event of the wrong shape carries nothing we can pass on
        return self._encode(events)

    def finish(self) -> list[dict[str, Any]]:
        return self._encode(self._decoder.finish()) + self._encoder.finish()

    def _encode(self, events: list[StreamEvent]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in events:
            for adapted in self._adapter.apply(event):
                out.extend(self._encoder.feed(adapted))
        return out


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""`json.dumps(..., ensure_ascii=False, separators=...)` without building an encoder per call."""
_HOLE = "\x00spectra-template\x00"
_HOLE_JSON = encode_basestring(_HOLE)

Templates = dict[tuple[Any, ...], tuple[str, str] | None]


def _sse(named: bool, event: dict[str, Any]) -> str:
    data = _dumps(event)
    if named and "type" in event:
        return f"event: {event['type']}\ndata: {data}\n\n"
    return f"data: {data}\n\n"


def _templated(named: bool, event: Templated, templates: Templates) -> str:
    if event.key not in templates:
        head, hole, tail = _sse(named, event.build(_HOLE)).partition(_HOLE_JSON)
        templates[event.key] = (head, tail) if hole and _HOLE_JSON not in tail else None
    template = templates[event.key]
    if template is None:
        return _sse(named, event)
    return template[0] + encode_basestring(event.value) + template[1]


def encode_sse(
    protocol: WireProtocol,
    events: list[dict[str, Any]],
    *,
    done: bool = False,
    templates: Templates | None = None,
) -> bytes:
    """Client events as SSE bytes: named events for Anthropic and Responses, bare `data:` for
    chat, whose stream ends with `data: [DONE]` (`done`), and for Gemini, whose stream just
    ends. With `templates` (one dict per stream), `Templated` events are written from their
    key's template."""
    if not events and not done:
        return b""
    named = protocol in (WireProtocol.ANTHROPIC_MESSAGES, WireProtocol.OPENAI_RESPONSES)
    chunks = [
        _templated(named, event, templates)
        if templates is not None and type(event) is Templated
        else _sse(named, event)
        for event in events
    ]
    if done and protocol is WireProtocol.OPENAI_CHAT:
        chunks.append("data: [DONE]\n\n")
    return "".join(chunks).encode()


class SSEStreamTranslator:
    """`StreamTranslator` over raw SSE bytes: upstream chunks in (split anywhere), client SSE
    bytes out. Holds back only an incomplete upstream event."""

    def __init__(self, ctx: TranslationContext) -> None:
        self._ctx = ctx
        self._parser = SSEParser()
        self._translator = StreamTranslator(ctx)
        self._finished = False
        self._observer: Callable[[SSEEvent], object] | None = None
        self._templates: Templates = {}

    def observe(self, observer: Callable[[SSEEvent], object]) -> None:
        """Show every upstream event (`finish` included) to `observer`, a usage tap's
        `on_event`, so the stream is parsed once for both."""
        self._observer = observer

    @property
    def usage(self) -> Usage | None:
        return self._translator.usage

    def feed(self, chunk: bytes) -> bytes:
        return self._translate(self._parser.feed(chunk))

    def finish(self) -> bytes:
        out = self._translate(self._parser.close())
        if not self._finished:
            self._finished = True
            out += self._sse(self._translator.finish(), done=True)
        return out

    def _translate(self, events: list[SSEEvent]) -> bytes:
        if self._observer is not None:
            for event in events:
                self._observer(event)
        out: list[dict[str, Any]] = []
        for event in events:
            if self._finished:
                break
            if event.data.strip() == "[DONE]":
                self._finished = True
                return self._sse(out + self._translator.finish(), done=True)
            try:
                data = json.loads(event.data)
            except ValueError:
                continue
            if isinstance(data, dict):
                out.extend(self._translator.feed(data))
        return self._sse(out)

    def _sse(self, events: list[dict[str, Any]], *, done: bool = False) -> bytes:
        return encode_sse(self._ctx.client, events, done=done, templates=self._templates)
