"""Client stream events as SSE text: each event serialised whole, or a `Templated` delta written
from its key's template (one per stream), with only its string encoded."""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

from spectra.providers.types import WireProtocol

from .common import compact_json
from .ir import Templated

HOLE = "\x00spectra-template\x00"
"""A placeholder string, found in an event's JSON to split it into a template."""
_HOLE_JSON = encode_basestring(HOLE)

Templates = dict[tuple[Any, ...], tuple[str, str] | None]


def named_events(protocol: WireProtocol) -> bool:
    """Whether `protocol`'s SSE events carry an `event:` line (Anthropic, Responses)."""
    return protocol in (WireProtocol.ANTHROPIC_MESSAGES, WireProtocol.OPENAI_RESPONSES)


def sse(named: bool, event: dict[str, Any]) -> str:
    data = compact_json(event)
    if named and "type" in event:
        return f"event: {event['type']}\ndata: {data}\n\n"
    return f"data: {data}\n\n"


def template(named: bool, event: dict[str, Any]) -> tuple[str, str] | None:
    """`event` (built around `HOLE`) as SSE text split at the hole, or None when the hole
    is not found exactly once."""
    head, hole, tail = sse(named, event).partition(_HOLE_JSON)
    return (head, tail) if hole and _HOLE_JSON not in tail else None


def _templated(named: bool, event: Templated, templates: Templates) -> str:
    if event.key not in templates:
        templates[event.key] = template(named, event.build(HOLE))
    split = templates[event.key]
    if split is None:
        return sse(named, event)
    return split[0] + encode_basestring(event.value) + split[1]


def sse_text(
    named: bool,
    events: list[dict[str, Any]],
    done: bool,
    templates: Templates | None,
    *,
    chat: bool,
) -> str:
    chunks = [
        _templated(named, event, templates)
        if templates is not None and type(event) is Templated
        else sse(named, event)
        for event in events
    ]
    if done and chat:
        chunks.append("data: [DONE]\n\n")
    return "".join(chunks)


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
    chat = protocol is WireProtocol.OPENAI_CHAT
    return sse_text(named_events(protocol), events, done, templates, chat=chat).encode()
