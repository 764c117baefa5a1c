"""Relay an upstream response to the caller without buffering, tapping it for usage.

Each upstream chunk is sent to the caller as it arrives (the OpenAI chat filter holds back at
most one incomplete event, and only when it must withhold the usage chunk it asked for). While
relaying, a watcher waits for the caller to go away: then the upstream request is closed at
once (the upstream stops generating) and the request settles as partial. A translated
stream goes through its `SSEStreamTranslator` chunk by chunk (it holds back only an
incomplete upstream event) while the tap reads the upstream's own events for billing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import zstandard
from starlette.types import Receive, Send

from spectra.providers import make_tap
from spectra.providers.client import UpstreamResponse
from spectra.providers.errors import UpstreamFailure, classify_exception
from spectra.providers.headers import forward_response_headers
from spectra.providers.openai import OpenAIChatStreamFilter
from spectra.providers.taps import StreamUsageTap
from spectra.providers.translate import SSEStreamTranslator
from spectra.providers.types import WireProtocol

from .translation import body_headers_dropped


@dataclass(slots=True)
class RelayResult:
    tap: StreamUsageTap
    first_byte_at: float | None
    client_gone: bool
    failure: UpstreamFailure | None
    relayed_bytes: int


class _Decoder:
    """Decodes a compressed upstream body for the tap only; the caller gets the original bytes."""

    def __init__(self, encoding: str | None) -> None:
        enc = (encoding or "").strip().lower()
        self._zlib: Any = None
        self._zstd: Any = None
        self.supported = True
        if enc in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(wbits=47)
        elif enc == "zstd":
            self._zstd = zstandard.ZstdDecompressor().decompressobj()
        elif enc not in ("", "identity"):
            self.supported = False

    def feed(self, chunk: bytes) -> bytes:
        try:
            if self._zlib is not None:
                return bytes(self._zlib.decompress(chunk))
            if self._zstd is not None:
                return bytes(self._zstd.decompress(chunk))
        except (zlib.error, zstandard.ZstdError):
            self.supported = False
            return b""
        return chunk if self.supported else b""


def response_headers(
    resp: UpstreamResponse, request_id: str, *, body_changed: bool = False
) -> list[tuple[bytes, bytes]]:
    pairs = forward_response_headers(resp.header_pairs(), body_changed=body_changed)
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
    out.append((b"x-spectra-request-id", request_id.encode()))
    return out


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def relay_stream(
    resp: UpstreamResponse,
    *,
    protocol: WireProtocol,
    withhold_usage: bool,
    request_id: str,
    receive: Receive,
    send: Send,
    translator: SSEStreamTranslator | None = None,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    frames: Callable[[bytes], bytes] | None = None,
    before_end: Callable[[RelayResult], Awaitable[None]] | None = None,
) -> RelayResult:
    """Relay a streamed (SSE) response chunk by chunk; never raises for upstream or caller faults.
    With a `translator`, `protocol` is the upstream's (the tap's) and the caller gets its output.
    `frames` turns a non-SSE framing (Bedrock's event stream) into SSE first. `before_end` is
    awaited with the result just before the last (empty or tail) body message, when the caller
    is still there to receive it."""
    chat_filter = (
        OpenAIChatStreamFilter(withhold_usage=True)
        if protocol is WireProtocol.OPENAI_CHAT and withhold_usage
        else None
    )
    tap = chat_filter.tap if chat_filter is not None else make_tap(protocol)
    decoder = _Decoder(resp.headers.get("content-encoding"))
    headers = response_headers(resp, request_id, body_changed=chat_filter is not None)
    if extra_headers:
        headers.extend(extra_headers)
    if translator is not None:
        headers = body_headers_dropped(headers)
        translator.observe(tap)  # one SSE and JSON parse for the tap and the translation
    if frames is not None:
        headers = [(k, v) for k, v in body_headers_dropped(headers) if k != b"content-type"]
        headers.append((b"content-type", b"text/event-stream; charset=utf-8"))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    result = RelayResult(tap, None, False, None, 0)
    chunks = resp.iter_chunks()

    def client_left(task: asyncio.Future[None]) -> None:
        # The caller went away (or its receive failed): close the upstream request at once,
        # which also wakes the pending read below.
        if not task.cancelled():
            result.client_gone = True
            resp.close()

    # One watcher for the whole stream and a plain await per chunk: no task and no
    # asyncio.wait per chunk on the hot path.
    def gone() -> bool:  # a call, so no narrowing: `client_left` flips it during an await
        return result.client_gone

    watcher = asyncio.ensure_future(_disconnected(receive))
    watcher.add_done_callback(client_left)
    try:
        while not gone():
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except UpstreamFailure as failure:
                if not gone():
                    result.failure = failure
                break
            except Exception as exc:
                if not gone():
                    result.failure = classify_exception(exc, after_headers=True)
                    resp.close()
                break
            if gone():
                break
            if frames is not None:
                chunk = frames(chunk)
            if chat_filter is not None:
                out = chat_filter.feed(chunk)
            elif translator is not None:
                out = translator.feed(decoder.feed(chunk))
            else:
                tap.feed(decoder.feed(chunk))
                out = chunk
            if out:
                if result.first_byte_at is None:
                    result.first_byte_at = time.monotonic()
                try:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                except OSError:
                    result.client_gone = True
                    resp.close()
                    break
                result.relayed_bytes += len(out)
    finally:
        watcher.remove_done_callback(client_left)
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await watcher
        with contextlib.suppress(Exception):
            await chunks.aclose()
    tail = chat_filter.close() if chat_filter is not None else b""
    if translator is not None:
        tail = translator.finish()  # also shows the tap the last event
    elif chat_filter is None:
        tap.close()
    if not result.client_gone:
        if before_end is not None:
            await before_end(result)
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": tail, "more_body": False})
    if result.failure is None and not result.client_gone:
        resp.release()
    return result


def decode_body(body: bytes, encoding: str | None) -> bytes:
    """A whole (non-streamed) upstream body, decoded for reading usage."""
    decoder = _Decoder(encoding)
    return decoder.feed(body) if decoder.supported else b""
