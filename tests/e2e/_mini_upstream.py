"""A tiny scripted Anthropic Messages + OpenAI Responses upstream that real clients accept.

It answers statelessly from the request: a conversation that already holds a tool result gets
the final text; one that offers the client's shell tool gets a call to it; anything else gets the
final text. Every request is recorded for the test to inspect.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import zstandard
from aiohttp import web

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    """The JSON body, decompressed and parsed; None when there was none or it was not JSON."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class MiniUpstream:
    """Serve on 127.0.0.1 with `async with MiniUpstream(...) as upstream:`."""

    final_text: str = "PONG-FINAL"
    tool_command: str | None = "echo spectra-tool-ok"
    """The shell command the first turn asks the client to run; None answers with text at once."""
    requests: list[RecordedRequest] = field(default_factory=list)
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _port: int = field(default=0, init=False)

    @property
    def base_url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT (append /v1 for Codex)."""
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> MiniUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def model_requests(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=_parse_body(raw, request.headers.get("content-encoding", "")),
            )
        )
        body = self.requests[-1].body
        if request.method == "HEAD":
            return web.Response(status=200)
        if request.method == "POST" and request.path == "/v1/messages":
            return await self._sse(request, _anthropic_events(self._anthropic_turn(body), body))
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            return web.json_response({"input_tokens": 42})
        if request.method == "POST" and request.path == "/v1/responses":
            return await self._sse(request, _responses_events(self._responses_turn(body), body))
        # Includes GET /v1/responses WebSocket upgrades: refuse at once so the client falls back.
        return web.json_response(
            {"error": {"type": "not_found_error", "message": f"no route {request.path}"}},
            status=404,
        )

    async def _sse(self, request: web.Request, events: Iterable[JsonObject]) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await response.prepare(request)
        for event in events:
            chunk = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
            await response.write(chunk.encode())
        await response.write_eof()
        return response

    def _anthropic_turn(self, body: Any) -> JsonObject:
        """The content block to answer with: a Bash tool_use, or the final text."""
        messages = body.get("messages", []) if isinstance(body, dict) else []
        offers_bash = any(t.get("name") == "Bash" for t in _dicts(_get(body, "tools")))
        has_result = any(
            block.get("type") == "tool_result"
            for message in _dicts(messages)
            for block in _dicts(message.get("content"))
        )
        if self.tool_command is not None and offers_bash and not has_result:
            return {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": "Bash",
                "input": {"command": self.tool_command, "description": "Run the test command"},
            }
        return {"type": "text", "text": self.final_text}

    def _responses_turn(self, body: Any) -> JsonObject:
        """The output item to answer with: a shell function_call, or the final message."""
        items = list(_dicts(_get(body, "input")))
        tool_names = {t.get("name") for t in _dicts(_get(body, "tools"))}
        has_output = any(item.get("type") == "function_call_output" for item in items)
        if self.tool_command is not None and not has_output:
            call_id = f"call_{uuid.uuid4().hex[:24]}"
            if "exec_command" in tool_names:
                arguments: JsonObject = {"cmd": self.tool_command}
                name = "exec_command"
            elif "shell" in tool_names:
                arguments = {"command": ["bash", "-lc", self.tool_command]}
                name = "shell"
            else:
                name = ""
            if name:
                return {
                    "type": "function_call",
                    "id": f"fc_{uuid.uuid4().hex[:24]}",
                    "call_id": call_id,
                    "name": name,
                    "arguments": json.dumps(arguments),
                    "status": "completed",
                }
        return {
            "type": "message",
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": self.final_text, "annotations": []}],
        }


def _parse_body(raw: bytes, encoding: str) -> Any:
    if not raw:
        return None
    encoding = encoding.strip().lower()
    try:
        if encoding == "zstd":
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        elif encoding == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (ValueError, zstandard.ZstdError, OSError):
        return None


def _get(body: Any, key: str) -> Any:
    return body.get(key) if isinstance(body, dict) else None


def _dicts(value: Any) -> Iterator[JsonObject]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def _anthropic_events(block: JsonObject, body: Any) -> Iterator[JsonObject]:
    """One assistant message with one content block, in the Messages streaming shape."""
    model = _get(body, "model") or "claude-test"
    yield {
        "type": "message_start",
        "message": {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 25,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
    }
    if block["type"] == "tool_use":
        start = {**block, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        stop_reason = "tool_use"
    else:
        start = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": block["text"]}
        stop_reason = "end_turn"
    yield {"type": "content_block_start", "index": 0, "content_block": start}
    yield {"type": "content_block_delta", "index": 0, "delta": delta}
    yield {"type": "content_block_stop", "index": 0}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": 12},
    }
    yield {"type": "message_stop"}


def _responses_events(item: JsonObject, body: Any) -> Iterator[JsonObject]:
    """One response with one output item, in the Responses streaming shape."""
    response: JsonObject = {
        "id": f"resp_{uuid.uuid4().hex[:24]}",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "in_progress",
        "model": _get(body, "model") or "gpt-test",
        "output": [],
        "usage": None,
    }
    seq = iter(range(1_000))

    def event(kind: str, **fields: Any) -> JsonObject:
        return {"type": kind, "sequence_number": next(seq), **fields}

    yield event("response.created", response=response)
    yield event("response.in_progress", response=response)
    item_id = item["id"]
    if item["type"] == "function_call":
        yield event(
            "response.output_item.added",
            output_index=0,
            item={**item, "arguments": "", "status": "in_progress"},
        )
        yield event(
            "response.function_call_arguments.delta",
            item_id=item_id,
            output_index=0,
            delta=item["arguments"],
        )
        yield event(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=0,
            arguments=item["arguments"],
        )
    else:
        text = item["content"][0]["text"]
        empty_part = {"type": "output_text", "text": "", "annotations": []}
        yield event(
            "response.output_item.added",
            output_index=0,
            item={**item, "status": "in_progress", "content": []},
        )
        position = {"item_id": item_id, "output_index": 0, "content_index": 0}
        yield event("response.content_part.added", **position, part=empty_part)
        yield event("response.output_text.delta", **position, delta=text)
        yield event("response.output_text.done", **position, text=text)
        yield event("response.content_part.done", **position, part=item["content"][0])
    yield event("response.output_item.done", output_index=0, item=item)
    usage = {
        "input_tokens": 25,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 37,
    }
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    yield event("response.completed", response=done)
