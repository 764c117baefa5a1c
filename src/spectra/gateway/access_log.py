"""The access log: one JSON line per generation request, written off the event loop.

Each request the gateway answers or refuses leaves one line (`SPECTRA_ACCESS_LOG`: `stderr`, the
default, a file path, or `off`): time, request id, protocol, user, key prefix (never the key),
model asked and served, pool account, outcome (`ok`, `partial`, `error`, `refused`) with its
code, HTTP status where the gateway answered it, tokens, cost (integer micro-units and the
display form), latency and time to first byte in ms.

Cost on the request path: the settled record (already built for the ledger) is appended to a
list. A timer on the loop hands the batch to a writer thread every `interval` seconds; the thread
formats the lines and writes them, so a slow disk or a full stderr pipe never stalls the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO

from spectra.kit.money import display
from spectra.usage.schemas import UsageRecordCreate

log = logging.getLogger(__name__)

_encode: Callable[[str], str] = json.encoder.encode_basestring_ascii

FLUSH_INTERVAL = 0.2
"""Seconds between hand-overs to the writer thread (the most a line waits on a live process)."""

Entry = tuple[float, UsageRecordCreate | None, str | None, int | None, dict[str, Any] | None]
"""(unix time, settled record or None, key prefix, HTTP status, fields of a record-less line)."""


class Sink(Protocol):
    """Where the lines go: an unbuffered binary file, or a text stream (`_TextOut`)."""

    def write(self, data: bytes, /) -> Any: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class AccessLog:
    """Buffered JSON-lines access log; `write`/`refused` are the per-request calls."""

    def __init__(self, out: Sink, *, owned: bool, interval: float = FLUSH_INTERVAL) -> None:
        self._out = out
        self._owned = owned
        self._interval = interval
        self._batch: list[Entry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._queue: queue.Queue[tuple[list[Entry], str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.prefix_of: Callable[[uuid.UUID], str | None] = lambda key_id: None
        """Resolves a record's key id to its prefix when the caller had no entry at hand."""
        self.currency: Callable[[], str] = lambda: "USD"

    @classmethod
    def open(cls, target: str) -> AccessLog | None:
        """`stderr` / `stdout` / a file path (appended to) / `off`: None."""
        value = target.strip()
        if value.lower() in ("off", "none", "false", "0", ""):
            return None
        if value.lower() == "stderr":
            return cls(_TextOut(sys.stderr), owned=False)
        if value.lower() == "stdout":
            return cls(_TextOut(sys.stdout), owned=False)
        path = Path(value).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered appends: each batch is one write(2) of whole lines, so several processes
        # appending to one file never interleave inside a line.
        return cls(path.open("ab", buffering=0), owned=True)

    def write(
        self, record: UsageRecordCreate, *, key_prefix: str | None, http_status: int | None
    ) -> None:
        """The line of a recorded request (settled or refused after the key was known)."""
        self._batch.append((time.time(), record, key_prefix, http_status, None))
        if self._timer is None:
            self._schedule()

    def refused(
        self,
        *,
        request_id: str,
        protocol: str,
        code: str,
        http_status: int,
        key_prefix: str | None = None,
        user_id: object = None,
    ) -> None:
        """The line of a request refused before it had a usage record (key, body, model)."""
        fields = {
            "request_id": request_id,
            "protocol": protocol,
            "user": str(user_id) if user_id is not None else None,
            "key": key_prefix,
            "status": "refused",
            "code": code,
            "http": http_status,
        }
        self._batch.append((time.time(), None, None, None, fields))
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Hand the batch to the writer thread (started on first use)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if not batch:
            return
        # Resolved here, on the loop: the key cache and the workspace settings are the loop's.
        resolved = [
            (at, rec, prefix or self.prefix_of(rec.key_id), http, fields)
            if rec is not None and prefix is None and rec.key_id is not None
            else (at, rec, prefix, http, fields)
            for at, rec, prefix, http, fields in batch
        ]
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="spectra-access-log", daemon=True
            )
            self._thread.start()
        self._queue.put((resolved, self.currency()))

    def drain(self) -> None:
        """Flush and wait until every line handed over is written (tests, shutdown)."""
        self.flush()
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        self.drain()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        if self._owned:
            with contextlib.suppress(OSError):
                self._out.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                batch, currency = item
                data = "".join(_line(entry, currency) for entry in batch).encode()
                try:
                    self._out.write(data)
                    self._out.flush()
                except (OSError, ValueError) as exc:  # a full disk, a closed stream
                    log.warning("access log write failed: %s", exc)
            finally:
                self._queue.task_done()


class _TextOut:
    """A text stream (stderr) as the bytes sink the writer uses; the lines are ASCII (JSON
    escapes), so any stream encoding takes them."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return self._stream.write(data.decode("ascii"))

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        pass


def _line(entry: Entry, currency: str) -> str:
    """One JSON line. Built by hand (this runs for every request): strings go through the
    json module's own ASCII string encoder, numbers and booleans are written as they are."""
    at, record, prefix, http, fields = entry
    seconds = int(at)
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    ts = f"{ts}.{int((at - seconds) * 1000):03d}Z"
    if record is None:
        return json.dumps({"ts": ts, **(fields or {})}, separators=(",", ":")) + "\n"
    code = record.refusal_reason or record.error_type
    return (
        f'{{"ts":"{ts}","request_id":{_s(record.request_id)},"protocol":{_s(record.protocol)}'
        f',"user":{_id(record.user_id)},"key":{_s(prefix)},"model":{_s(record.model_requested)}'
        f',"served":{_s(record.model_served)},"account":{_id(record.account_id)}'
        f',"status":{_s(record.status)},"code":{_s(code)},"http":{_n(http)}'
        f',"stream":{_b(record.is_streamed)},"input_tokens":{record.input_tokens}'
        f',"output_tokens":{record.output_tokens},"cache_read_tokens":{record.cache_read_tokens}'
        f',"cache_write_tokens":{record.cache_write_tokens},"estimated":{_b(record.is_estimated)}'
        f',"cost_micros":{record.cost_micros},"cost":{_s(display(record.cost_micros, currency))}'
        f',"latency_ms":{_n(record.latency_ms)},"ttfb_ms":{_n(record.ttfb_ms)}'
        f',"attempts":{record.attempts}}}\n'
    )


def _s(value: str | None) -> str:
    return "null" if value is None else _encode(value)


def _id(value: uuid.UUID | None) -> str:
    return "null" if value is None else f'"{value}"'


def _n(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _b(value: bool) -> str:
    return "true" if value else "false"
