"""A fast fake upstream for the benchmark: raw asyncio + httptools on uvloop, HTTP/1.1 keep-alive.

Serves `POST /v1/chat/completions`, `/v1/responses` and `/v1/messages`, streamed (`"stream":
true`) or not, and Bedrock's `/model/{id}/invoke` and `/invoke-with-response-stream` (the
Messages answer, streamed in AWS event-stream framing; the signature is not checked here, the
test suite's FakeBedrock does that), in the exact event shapes of tests/fakes/upstream.py (whose builders it reuses),
prepared once per (path, model, stream, include_usage) and then written from memory. A body field
`"bench_chunk_delay_ms": N` sleeps N ms between streamed events (the gateway passes unknown
fields through untouched). Anything else answers 404.

    python -m bench.fake --port 0      # prints BENCH_FAKE_URL=http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import httptools
from tests.fakes.clouds import bedrock_chunk
from tests.fakes.upstream import (
    Reply,
    anthropic_body,
    anthropic_events,
    chat_body,
    chat_events,
    responses_body,
    responses_events,
)

PATHS = (b"/v1/chat/completions", b"/v1/responses", b"/v1/messages")
TEXT = "The quick brown fox jumps over the lazy dog. " * 4
REPLY = Reply(text=TEXT, input_tokens=120, output_tokens=40, pieces=20)

_cache: dict[tuple[bytes, str, bool, bool], tuple[bytes, list[bytes]]] = {}


def _prepared(
    path: bytes, model: str, stream: bool, include_usage: bool
) -> tuple[bytes, list[bytes]]:
    """(response head, body parts): a whole body, or one chunked-encoding frame per event."""
    key = (path, model, stream, include_usage)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    if not stream:
        if path == b"/v1/messages":
            body = anthropic_body(REPLY, model)
        elif path == b"/v1/chat/completions":
            body = chat_body(REPLY, model)
        else:
            body = responses_body(REPLY, model)
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        hit = (head, [body])
    else:
        if path == b"/v1/messages":
            events = anthropic_events(REPLY, model)
        elif path == b"/v1/chat/completions":
            events = chat_events(REPLY, model, include_usage=include_usage)
        else:
            events = responses_events(REPLY, model)
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        frames = [f"{len(e):x}\r\n".encode() + e + b"\r\n" for e in events]
        if include_usage and path == b"/v1/chat/completions":
            # As OpenAI does, the usage-only chunk follows the finish chunk at once (usage is
            # known when generation ends); a delay slot of its own would time an event that
            # real upstreams do not space out, and that Spectra withholds when it asked for it.
            frames[-3:-1] = [frames[-3] + frames[-2]]
        frames.append(b"0\r\n\r\n")
        hit = (head, frames)
    _cache[key] = hit
    return hit


NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: Any = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.queue: list[tuple[bytes, bytes]] = []
        self.busy = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.queue.append((self.url.split(b"?", 1)[0], b"".join(self.body)))
        if not self.busy:
            self._drain()

    def _drain(self) -> None:
        while self.queue and self.transport is not None:
            path, body = self.queue.pop(0)
            head, parts, delay = _answer(path, body)
            if delay <= 0:
                self.transport.write(head + b"".join(parts))
                continue
            self.busy = True
            asyncio.get_running_loop().create_task(self._slow(head, parts, delay))
            return

    async def _slow(self, head: bytes, parts: list[bytes], delay: float) -> None:
        transport = self.transport
        if transport is None:
            return
        transport.write(head + parts[0])
        for part in parts[1:-1]:
            await asyncio.sleep(delay)
            if self.transport is None:
                return
            transport.write(part)
        transport.write(parts[-1])
        self.busy = False
        self._drain()


def _bedrock(path: bytes) -> tuple[bytes, list[bytes]]:
    """InvokeModel / InvokeModelWithResponseStream of the model in the path."""
    _, _, model, action = path.decode().split("/", 3)
    key = (path, model, action != "invoke", False)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    if action == "invoke":
        body = anthropic_body(REPLY, model)
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        hit = (head, [body])
    else:
        messages = [
            bedrock_chunk(json.loads(event.split(b"data: ", 1)[1]))
            for event in anthropic_events(REPLY, model)
        ]
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        frames = [f"{len(m):x}\r\n".encode() + m + b"\r\n" for m in messages]
        hit = (head, [*frames, b"0\r\n\r\n"])
    _cache[key] = hit
    return hit


def _answer(path: bytes, body: bytes) -> tuple[bytes, list[bytes], float]:
    if path.startswith(b"/model/") and path.count(b"/") == 3:
        head, parts = _bedrock(path)
        return head, parts, 0.0
    if path not in PATHS:
        return NOT_FOUND, [], 0.0
    try:
        data: Any = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    stream = data.get("stream") is True
    options = data.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    head, parts = _prepared(path, str(data.get("model") or "bench-model"), stream, include_usage)
    delay = float(data.get("bench_chunk_delay_ms") or 0) / 1000 if stream else 0.0
    return head, parts, delay


async def serve(host: str, port: int) -> asyncio.base_events.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(_Connection, host, port, backlog=4096, reuse_address=True)


async def _main(host: str, port: int) -> None:
    server = await serve(host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"BENCH_FAKE_URL=http://{host}:{bound}", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    try:
        asyncio.run(_main(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
