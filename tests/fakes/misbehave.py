"""A hostile upstream for `FakeUpstream`: a reply in each provider's documented wire format,
then spoiled in one way a broken or malicious upstream (or a proxy in front of it) could.

- usage dropped (no `usage` anywhere, streamed or not);
- every token count replaced by an absurd value (negative, fractional, 1e18, 1e30, 1e308, a
  string, NaN: written as raw JSON, so `NaN` and `1e+308` reach the gateway's parser);
- garbage SSE: before every real event, an event that is not JSON, a truncated line, events
  whose data is JSON of the wrong type (a list, a string, a `usage` that is a number, a
  `message_delta` without a body), a comment and an unknown field;
- a header flood: many headers, or huge header values.

Use it as a behaviour: `fake.script(Misbehave(reply=Reply(...), usage_value=1e30))`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_UNSET: Any = object()
_COUNT_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
        "reasoning_tokens",
    }
)
GARBAGE_EVENTS: tuple[bytes, ...] = (
    b"data: {not json at all\n\n",
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n',
    b"event: message_delta\ndata: [1, 2, 3]\n\n",
    b'data: "just a string"\n\n',
    b'event: message_start\ndata: {"type":"message_start","message":{"usage":7}}\n\n',
    b'data: {"type":"response.in_progress","response":{"usage":"lots"}}\n\n',
    b'data: {"choices":"nope","usage":[1]}\n\n',
    b": a comment line\nretry: 10\nid: 5\nnonsense-field: x\n\n",
    b"data: \xff\xfe not utf-8\n\n",
)


@dataclass
class Misbehave:
    """A reply (`reply`, a `Reply`) spoiled as the fields say; see the module docstring."""

    reply: Any = None
    drop_usage: bool = False
    usage_value: Any = _UNSET
    """Put this in place of every token count (`float('nan')`, `1e308`, `-5`, "lots", ...)."""
    garbage: bool = False
    header_count: int = 0
    """Add this many extra response headers."""
    header_size: int = 0
    """Add one header whose value is this many bytes."""

    def spoil_event(self, event: bytes) -> bytes:
        """One SSE event block, usage spoiled; garbage events put before it when asked."""
        spoiled = self._spoil_block(event)
        return b"".join(GARBAGE_EVENTS) + spoiled if self.garbage else spoiled

    def spoil_body(self, body: bytes) -> bytes:
        """A whole JSON body, usage spoiled; with `garbage`, cut in the middle of a value."""
        spoiled = self._spoil_json(body.decode())
        return spoiled[: len(spoiled) * 2 // 3] if self.garbage else spoiled

    def headers(self) -> dict[str, str]:
        out = {f"x-flood-{i}": "y" * 16 for i in range(self.header_count)}
        if self.header_size:
            out["x-huge"] = "z" * self.header_size
        return out

    def _spoil_block(self, event: bytes) -> bytes:
        lines = event.decode().split("\n")
        out = []
        for line in lines:
            if line.startswith("data: ") and line[6:].startswith("{"):
                out.append("data: " + self._spoil_json(line[6:]).decode())
            else:
                out.append(line)
        return "\n".join(out).encode()

    def _spoil_json(self, text: str) -> bytes:
        if not self.drop_usage and self.usage_value is _UNSET:
            return text.encode()
        obj = json.loads(text)
        _walk(obj, self)
        return _dumps(obj).encode()


def _walk(obj: Any, how: Misbehave) -> None:
    if isinstance(obj, list):
        for item in obj:
            _walk(item, how)
        return
    if not isinstance(obj, dict):
        return
    if how.drop_usage:
        obj.pop("usage", None)
    for key, value in list(obj.items()):
        if key == "usage" and isinstance(value, dict) and how.usage_value is not _UNSET:
            _replace_counts(value, how.usage_value)
        else:
            _walk(value, how)


def _replace_counts(usage: dict[str, Any], value: Any) -> None:
    for key, item in usage.items():
        if isinstance(item, dict):
            _replace_counts(item, value)
        elif key in _COUNT_KEYS and item is not None:
            usage[key] = value


def _dumps(obj: Any) -> str:
    """JSON as a hostile upstream writes it: NaN and huge floats as bare tokens."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=True)
    return text.replace("Infinity", "1e999") if "Infinity" in text else text
