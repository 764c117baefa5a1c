"""Incremental conversion of a custom tool's `{"input": "..."}` function stand-in, streamed as
JSON fragments, into the tool's free text, fragment by fragment."""

from __future__ import annotations

import json
import re

from .common import custom_input

_OPENING = re.compile(r'\s*\{\s*"input"\s*:\s*"')
_MAX_OPENING = 64


class InputTextDecoder:
    """Feed JSON argument fragments; get the decoded text of the `input` string as it arrives.

    Holds back only what cannot be decoded yet: the opening `{"input": "` and an escape
    sequence split between fragments. Arguments of another shape fall back to decoding the
    whole object at the end (`finish`).
    """

    def __init__(self) -> None:
        self._pending = ""
        self._state = "opening"
        self._raw = ""

    def feed(self, fragment: str) -> str:
        self._raw += fragment if self._state == "fallback" else ""
        if self._state in ("done", "fallback"):
            return ""
        self._pending += fragment
        if self._state == "opening":
            match = _OPENING.match(self._pending)
            if match is None:
                if len(self._pending) > _MAX_OPENING or not _could_open(self._pending):
                    self._state, self._raw, self._pending = "fallback", self._pending, ""
                return ""
            self._pending = self._pending[match.end() :]
            self._state = "string"
        return self._decode()

    def _decode(self) -> str:
        text, i, n = self._pending, 0, len(self._pending)
        while i < n:
            ch = text[i]
            if ch == '"':
                self._state = "done"
                self._pending = ""
                return _unescape(text[:i])
            if ch == "\\":
                width = _escape_width(text, i)
                if width == 0:
                    break
                i += width
            else:
                i += 1
        self._pending = text[i:]
        return _unescape(text[:i])

    def finish(self) -> str:
        """What is left: the whole text when the arguments were not the expected shape."""
        if self._state != "fallback":
            return ""
        return custom_input(self._raw)


def _could_open(prefix: str) -> bool:
    """Whether `prefix` may still grow into `{"input": "`."""
    compact = re.sub(r"\s+", "", prefix)
    return '{"input":"'.startswith(compact)


def _escape_width(text: str, i: int) -> int:
    """Length of the escape at `text[i]`, or 0 while it is incomplete."""
    if i + 1 >= len(text):
        return 0
    if text[i + 1] != "u":
        return 2
    if i + 6 > len(text):
        return 0
    if 0xD800 <= int(text[i + 2 : i + 6], 16) <= 0xDBFF:  # a surrogate pair needs its low half
        return 12 if i + 12 <= len(text) else 0
    return 6


def _unescape(segment: str) -> str:
    return str(json.loads(f'"{segment}"')) if segment else ""
