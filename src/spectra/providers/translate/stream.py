"""Streamed answers translated event by event: upstream decoder -> tool adapter -> client encoder."""

from __future__ import annotations

import dataclasses
import json
from json.encoder import encode_basestring
from typing import Any, Protocol

from spectra.providers.sse import SSEEvent, SSEParser
from spectra.providers.types import Usage, WireProtocol

from .anthropic_stream import AnthropicDecoder, AnthropicEncoder
from .chat_stream import ChatDecoder, ChatEncoder
from .common import SHAPE_ERRORS, compact_json
from .context import TranslationContext
from .custom_text import InputTextDecoder
from .gemini_stream import GeminiDecoder, GeminiEncoder
from .ir import BlockStart, BlockStop, Delta, Spliced, StreamEvent, Templated
from .responses_stream import ResponsesDecoder, ResponsesEncoder


class _Decoder(Protocol):
    usage: Usage | None

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...
    def delta_of(self, event: dict[str, Any]) -> tuple[int, str, str] | None: ...


class _Observer(Protocol):
    """A usage tap (`providers.taps.StreamUsageTap`)."""

    def on_event(self, event: SSEEvent) -> bool: ...
    def on_parsed(self, event: SSEEvent, obj: object) -> bool: ...


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


_dumps = compact_json
_HOLE = "\x00spectra-template\x00"
_HOLE_JSON = encode_basestring(_HOLE)
_SEQUENCE_HOLE = 7_346_199_058_136_470_451
"""Stands for a Responses event's `sequence_number` in its template."""

Templates = dict[tuple[Any, ...], tuple[str, str] | None]


def _sse(named: bool, event: dict[str, Any]) -> str:
    data = _dumps(event)
    if named and "type" in event:
        return f"event: {event['type']}\ndata: {data}\n\n"
    return f"data: {data}\n\n"


def _template(named: bool, event: dict[str, Any]) -> tuple[str, str] | None:
    """`event` (built around `_HOLE`) as SSE text split at the hole, or None when the hole
    is not found exactly once."""
    head, hole, tail = _sse(named, event).partition(_HOLE_JSON)
    return (head, tail) if hole and _HOLE_JSON not in tail else None


def _templated(named: bool, event: Templated, templates: Templates) -> str:
    if event.key not in templates:
        templates[event.key] = _template(named, event.build(_HOLE))
    template = templates[event.key]
    if template is None:
        return _sse(named, event)
    return template[0] + encode_basestring(event.value) + template[1]


_SPLICED: dict[tuple[Any, ...], tuple[list[str], list[int]] | None] = {}
"""`Spliced` templates by key, for the process: the text between the holes, and which hole
comes at each gap (keys name event shapes, a handful per protocol)."""


def _splice_template(named: bool, event: Spliced) -> tuple[list[str], list[int]] | None:
    marks = [encode_basestring(f"{_HOLE}{i}") for i in range(len(event.holes))]
    text = _sse(named, event.build(*(f"{_HOLE}{i}" for i in range(len(marks)))))
    found = sorted((text.find(mark), i) for i, mark in enumerate(marks))
    if any(at < 0 or text.count(marks[i]) != 1 for at, i in found):
        return None
    pieces, start = [], 0
    for at, i in found:
        pieces.append(text[start:at])
        start = at + len(marks[i])
    pieces.append(text[start:])
    return pieces, [i for _, i in found]


def _hole(value: Any) -> str:
    if type(value) is str:
        return encode_basestring(value)
    return str(value) if type(value) is int else _dumps(value)


def _spliced(named: bool, event: Spliced) -> str:
    if event.key not in _SPLICED:
        _SPLICED[event.key] = _splice_template(named, event)
    template = _SPLICED[event.key]
    if template is None:
        return _sse(named, event)
    pieces, order = template
    holes, raw = event.holes, event.raw or {}
    out = [pieces[0]]
    for i, piece in zip(order, pieces[1:], strict=True):
        out.append(raw[i] if i in raw else _hole(holes[i]))
        out.append(piece)
    return "".join(out)


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
    chat = protocol is WireProtocol.OPENAI_CHAT
    return _sse_text(named, events, done, templates, chat=chat).encode()


def _sse_text(
    named: bool,
    events: list[dict[str, Any]],
    done: bool,
    templates: Templates | None,
    *,
    chat: bool,
) -> str:
    chunks = [
        _spliced(named, event)
        if type(event) is Spliced
        else _templated(named, event, templates)
        if templates is not None and type(event) is Templated
        else _sse(named, event)
        for event in events
    ]
    if done and chat:
        chunks.append("data: [DONE]\n\n")
    return "".join(chunks)


class SSEStreamTranslator:
    """`StreamTranslator` over raw SSE bytes: upstream chunks in (split anywhere), client SSE
    bytes out. Holds back only an incomplete upstream event.

    Each upstream event is parsed once, for the translation and for the usage tap shown it
    (`observe`). A text, arguments or thinking delta into an open block that no tool adapter
    rewrites (`delta_of`, the upstream decoder's reading) goes straight to the client's SSE
    template for that block: the same bytes `StreamTranslator` and `encode_sse` give, without
    the neutral event and the client event in between.
    """

    def __init__(self, ctx: TranslationContext) -> None:
        self._named = ctx.client in (WireProtocol.ANTHROPIC_MESSAGES, WireProtocol.OPENAI_RESPONSES)
        self._chat = ctx.client is WireProtocol.OPENAI_CHAT
        self._parser = SSEParser()
        self._translator = translator = StreamTranslator(ctx)
        self._finished = False
        self._observer: _Observer | None = None
        self._templates: Templates = {}
        encoder = translator._encoder
        self._encoder = encoder if isinstance(encoder, AnthropicEncoder | ChatEncoder) else None
        self._numbered = encoder if isinstance(encoder, ResponsesEncoder) else None
        self._numbered_templates: dict[tuple[Any, ...], tuple[str, str, str] | None] = {}
        self._delta_of = translator._decoder.delta_of
        self._adapted = translator._adapter._mode
        self._direct_templates: dict[tuple[int, str], tuple[str, ...]] = {}

    def observe(self, observer: _Observer) -> None:
        """Show every upstream event (`finish` included) to `observer`, a usage tap, so the
        stream is parsed once for both."""
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
            out += self._sse_text(self._translator.finish(), done=True).encode()
        return out

    def _translate(self, events: list[SSEEvent]) -> bytes:
        if not events:
            return b""
        out: list[str] = []
        observer, direct, loads = self._observer, self._direct, json.loads
        for event in events:
            data = event.data
            done = not data.endswith("}") and data.strip() == "[DONE]"
            try:
                obj: Any = _UNPARSED if done else loads(data)
            except ValueError:
                obj = _UNPARSED
            if observer is not None:
                if obj is _UNPARSED:
                    observer.on_event(event)
                else:
                    observer.on_parsed(event, obj)
            if self._finished or not (done or type(obj) is dict):
                continue
            if done:
                self._finished = True
                out.append(self._sse_text(self._translator.finish(), done=True))
                continue
            text = direct(obj)
            if text is None:
                self._direct_templates.clear()
                text = self._sse_text(self._translator.feed(obj))
            out.append(text)
        return (out[0] if len(out) == 1 else "".join(out)).encode()

    def _direct(self, obj: dict[str, Any]) -> str | None:
        """A plain delta's SSE text straight from its template; None when `obj` is anything
        else. Templates are looked up by upstream block and delta kind, a lookup that is
        forgotten whenever an event takes the general path (only those change the blocks)."""
        try:
            delta = self._delta_of(obj)
        except SHAPE_ERRORS:
            return None
        if delta is None:
            return None
        index, kind, value = delta
        template = self._direct_templates.get((index, kind))
        if template is None:
            template = self._direct_template(index, kind)
            if template is None:
                return None
            self._direct_templates[index, kind] = template
        numbered = self._numbered
        if numbered is None:
            return template[0] + encode_basestring(value) + template[1]
        sequence = numbered.took(index, kind, value)
        return template[0] + str(sequence) + template[1] + encode_basestring(value) + template[2]

    def _direct_template(self, index: int, kind: str) -> tuple[str, ...] | None:
        numbered = self._numbered
        if numbered is not None:
            return self._numbered_template(numbered, index, kind)
        encoder = self._encoder
        if encoder is None or index in self._adapted:
            return None
        key = encoder.delta_key(index, kind)
        if key is None:
            return None
        if key not in self._templates:
            self._templates[key] = _template(self._named, encoder.delta_event(key, _HOLE))
        return self._templates[key]

    def _numbered_template(
        self, encoder: ResponsesEncoder, index: int, kind: str
    ) -> tuple[str, str, str] | None:
        """A Responses delta's SSE text split at its two holes, the sequence number and the
        string; None when the delta needs the general path or a hole is not found once."""
        if index in self._adapted:
            return None
        key = encoder.delta_key(index, kind)
        if key is None:
            return None
        if key not in self._numbered_templates:
            field, item_id, position = key
            if (field, position) not in _NUMBERED:
                _NUMBERED[field, position] = _numbered_shape(self._named, encoder, key)
            shape = _NUMBERED[field, position]
            self._numbered_templates[key] = (
                None
                if shape is None
                else (shape[0], shape[1] + _hole(item_id) + shape[2], shape[3])
            )
        return self._numbered_templates[key]

    def _sse_text(self, events: list[dict[str, Any]], *, done: bool = False) -> str:
        return _sse_text(self._named, events, done, self._templates, chat=self._chat)


_ITEM_HOLE = _HOLE + "item"
_NUMBERED: dict[tuple[str, int], tuple[str, str, str, str] | None] = {}
"""Responses delta templates by event type and output position, for the process: the text
around the sequence number, the item id and the string (`_numbered_shape`)."""


def _numbered_shape(
    named: bool, encoder: ResponsesEncoder, key: tuple[Any, ...]
) -> tuple[str, str, str, str] | None:
    """A Responses delta's SSE text split at its three holes, in this order: the sequence
    number, the item id, the string; None when they are not each found once, in that order."""
    event = encoder.delta_event((key[0], _ITEM_HOLE, key[2]), _HOLE, _SEQUENCE_HOLE)
    text = _sse(named, event)
    marks = (str(_SEQUENCE_HOLE), encode_basestring(_ITEM_HOLE), _HOLE_JSON)
    if any(text.count(mark) != 1 for mark in marks):
        return None
    pre, _, rest = text.partition(marks[0])
    between, _, rest = rest.partition(marks[1])
    after_id, _, tail = rest.partition(marks[2])
    if marks[1] in pre or marks[2] in pre + between:  # not in that order
        return None
    return pre, between, after_id, tail


_UNPARSED = object()
"""An event's data that is not JSON."""
