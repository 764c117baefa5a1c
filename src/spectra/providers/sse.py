"""An incremental Server-Sent Events parser for tapping relayed streams.

It is fed raw byte chunks split anywhere (mid-line, mid-UTF-8 sequence, between `\\r` and
`\\n`) and yields complete events with their byte span in the stream, so a caller can relay
the original bytes untouched and, where needed, drop exactly one event's bytes. Lines are
decoded only once complete, so a split UTF-8 sequence is never seen half.
"""

from __future__ import annotations

from dataclasses import dataclass

_LF = 0x0A
_COLON = 0x3A
_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event.

    `event` is "" when the block had no `event:` line (the spec's default type "message").
    `start`/`end` are absolute offsets in the byte stream: the block runs from the end of
    the previous blank line to the end of the blank line that dispatched it.
    """

    event: str
    data: str
    start: int
    end: int


class SSEParser:
    """Feed bytes, get events. Cheap enough to run on every relayed chunk."""

    __slots__ = ("_block_start", "_buf", "_data", "_event", "_offset", "_started", "boundary")

    def __init__(self) -> None:
        self._buf = b""
        self._offset = 0
        self._event = ""
        self._data: list[str] | None = None
        self._block_start = 0
        self._started = False
        self.boundary = 0
        """Absolute offset just past the last blank line seen: everything before it is whole."""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume `chunk` and return the events it completed (possibly none)."""
        if not self._started:
            if not chunk:
                return []
            buf = self._buf + chunk if self._buf else chunk
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                self._buf = buf
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
                self._offset = self._block_start = self.boundary = len(_BOM)
        else:
            buf = self._buf + chunk if self._buf else chunk
        return self._scan(buf, final=False)

    def close(self) -> list[SSEEvent]:
        """End of stream: a pending lone `\\r` ends its line; an unterminated event is dropped."""
        buf, self._buf = self._buf, b""
        events = self._scan(buf, final=True) if buf else []
        self._buf = b""
        self._data = None
        self._event = ""
        return events

    def _scan(self, buf: bytes, *, final: bool) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        base = self._offset
        pos = 0
        n = len(buf)
        if b"\r" not in buf:
            find = buf.find
            while True:
                j = find(b"\n", pos)
                if j < 0:
                    break
                self._line(buf, pos, j, base + j + 1, events)
                pos = j + 1
        else:
            jn = buf.find(b"\n")
            jr = buf.find(b"\r")
            while pos < n:
                if 0 <= jn < pos:
                    jn = buf.find(b"\n", pos)
                if 0 <= jr < pos:
                    jr = buf.find(b"\r", pos)
                if jr < 0 and jn < 0:
                    break
                if jr < 0 or 0 <= jn < jr:
                    j = jn
                    nxt = j + 1
                else:
                    j = jr
                    if j + 1 < n:
                        nxt = j + 2 if buf[j + 1] == _LF else j + 1
                    elif final:
                        nxt = j + 1
                    else:
                        break  # a trailing \r may be the first half of \r\n
                self._line(buf, pos, j, base + nxt, events)
                pos = nxt
        self._buf = buf[pos:] if pos < n else b""
        self._offset = base + pos
        return events

    def _line(
        self, buf: bytes, start: int, end: int, line_end: int, events: list[SSEEvent]
    ) -> None:
        if start == end:
            if self._data is not None:
                events.append(
                    SSEEvent(self._event, "\n".join(self._data), self._block_start, line_end)
                )
                self._data = None
            self._event = ""
            self._block_start = line_end
            self.boundary = line_end
            return
        if buf[start] == _COLON:
            return
        colon = buf.find(b":", start, end)
        if colon < 0:
            field = buf[start:end]
            value = ""
        else:
            field = buf[start:colon]
            vstart = colon + 2 if colon + 1 < end and buf[colon + 1] == 0x20 else colon + 1
            value = buf[vstart:end].decode("utf-8", "replace")
        if field == b"data":
            if self._data is None:
                self._data = [value]
            else:
                self._data.append(value)
        elif field == b"event":
            self._event = value
