"""`StreamTranslator` over raw SSE bytes, with a direct path for plain deltas."""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any, Protocol

from spectra.providers.sse import SSEEvent, SSEParser
from spectra.providers.types import Usage

from .anthropic_stream import AnthropicEncoder
from .chat_stream import ChatEncoder
from .common import SHAPE_ERRORS
from .context import TranslationContext
from .sse_text import HOLE, named_events, template
from .stream import StreamTranslator


class _Observer(Protocol):
    """A usage tap (`providers.taps.StreamUsageTap`)."""

    def on_event(self, event: SSEEvent) -> bool: ...
    def on_parsed(self, event: SSEEvent, obj: object) -> bool: ...


class SSEStreamTranslator:
    """`StreamTranslator` over raw SSE bytes: upstream chunks in (split anywhere), client SSE
    bytes out. Holds back only an incomplete upstream event.

    Each upstream event is parsed once, for the translation and for the usage tap shown it
    (`observe`). A text, arguments or thinking delta into an open block that no tool adapter
    rewrites (`delta_of`, the upstream decoder's reading) goes straight to the client's SSE
    text for that block (a per-block template; a Responses client's encoder writes it itself):
    the same bytes `StreamTranslator` and `encode_sse` give, without the neutral event and the
    client event in between.
    """

    def __init__(self, ctx: TranslationContext) -> None:
        self._named = named_events(ctx.client)
        self._parser = SSEParser()
        self._translator = translator = StreamTranslator(ctx)
        self._finished = False
        self._observer: _Observer | None = None
        self._templates = translator.templates
        encoder = translator.encoder
        self._encoder = encoder if isinstance(encoder, AnthropicEncoder | ChatEncoder) else None
        self._writer = translator.writer
        self._delta_of: Callable[[dict[str, Any]], tuple[int, str, str] | None]
        self._delta_of = translator.decoder.delta_of
        self._adapted = translator.adapter.mode
        self._direct_templates: dict[tuple[int, str], tuple[str, str]] = {}

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
            out += self._translator.finish_sse().encode()
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
                out.append(self._translator.finish_sse())
                continue
            text = direct(obj)
            if text is None:
                self._direct_templates.clear()
                text = self._translator.feed_sse(obj)
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
        if self._writer is not None:
            return None if index in self._adapted else self._writer.delta(index, kind, value)
        split = self._direct_templates.get((index, kind))
        if split is None:
            split = self._direct_template(index, kind)
            if split is None:
                return None
            self._direct_templates[index, kind] = split
        return split[0] + encode_basestring(value) + split[1]

    def _direct_template(self, index: int, kind: str) -> tuple[str, str] | None:
        encoder = self._encoder
        if encoder is None or index in self._adapted:
            return None
        key = encoder.delta_key(index, kind)
        if key is None:
            return None
        if key not in self._templates:
            self._templates[key] = template(self._named, encoder.delta_event(key, HOLE))
        return self._templates[key]


_UNPARSED = object()
"""An event's data that is not JSON."""
