"""The demo's upstream: answers Anthropic and OpenAI requests with a canned reply, no model behind it.

Serves `POST /v1/messages` (and `/count_tokens`), `POST /v1/chat/completions`,
`POST /v1/responses` and `GET /v1/models`, streamed (SSE) or not, in the shapes Claude Code,
Codex CLI and the SDKs accept. Usage numbers are estimated from the request (about four bytes a
token; a prompt marked with `cache_control` is mostly read from cache, as Claude Code's are), or
taken from the body's `spectra_demo.usage` (`input=..,output=..,cache_read=..,cache_write=..`),
which the demo's history generator sends so that its traffic has realistic, reproducible sizes
(a body field, since the gateway passes body fields unchanged but headers only by allowlist).
`spectra_demo.fail: <credential>` answers a 429 with `retry-after` to the pool account using
that credential (the gateway then fails over to another), so the pool has some trouble to show. With `api_key`, any other credential gets the provider's 401.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

DEMO_FIELD = "spectra_demo"
"""The body field carrying the demo's instructions: {"usage": "input=..,...", "fail": credential}."""
MODELS = (
    "claude-opus-4-1",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gpt-5",
    "gpt-5-codex",
    "gpt-5-mini",
)
REPLY = (
    "Hello from the Spectra demo upstream. No model ran: this reply is canned, and its usage "
    "numbers are estimated so that the ledger, the allowances and the charts have something "
    "to count. Point a pool account at a real provider to get real answers."
)
_CREATED = 1_790_000_000

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


def parse_usage_header(value: str | None) -> Usage | None:
    """`input=1200,output=300,cache_read=40000,cache_write=0` -> Usage (None when absent or bad)."""
    if not value:
        return None
    numbers: dict[str, int] = {}
    for part in value.split(","):
        name, _, raw = part.partition("=")
        if not raw.strip().isdigit():
            return None
        numbers[name.strip()] = int(raw)
    if "input" not in numbers or "output" not in numbers:
        return None
    return Usage(
        numbers["input"],
        numbers["output"],
        numbers.get("cache_read", 0),
        numbers.get("cache_write", 0),
    )


def estimate_usage(raw: bytes, *, anthropic: bool) -> Usage:
    """About four bytes a token; a cached Anthropic prompt reads most of itself from cache."""
    prompt = max(1, math.ceil(len(raw) / 4))
    output = max(1, math.ceil(len(REPLY) / 4))
    if anthropic and b"cache_control" in raw:
        cached = prompt * 9 // 10
        return Usage(prompt - cached, output, cache_read_tokens=cached)
    return Usage(prompt, output)


def _sse(event: str | None, payload: JsonDict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _anthropic_usage(usage: Usage, *, output: int | None = None) -> JsonDict:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens if output is None else output,
    }


def anthropic_body(model: str, usage: Usage) -> JsonDict:
    return {
        "id": "msg_demo",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": REPLY}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(usage),
    }


def anthropic_events(model: str, usage: Usage) -> list[bytes]:
    start = {**anthropic_body(model, usage), "content": [], "stop_reason": None}
    start["usage"] = _anthropic_usage(usage, output=1)
    block = {"type": "text", "text": ""}
    delta = {"type": "text_delta", "text": REPLY}
    return [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": _anthropic_usage(usage),
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]


def _chat_usage(usage: Usage) -> JsonDict:
    prompt = usage.input_tokens + usage.cache_read_tokens  # OpenAI counts cached tokens inside
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def chat_body(model: str, usage: Usage) -> JsonDict:
    return {
        "id": "chatcmpl-demo",
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _chat_usage(usage),
    }


def chat_events(model: str, usage: Usage, *, include_usage: bool) -> list[bytes]:
    base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": _CREATED}
    base["model"] = model
    extra: JsonDict = {"usage": None} if include_usage else {}

    def chunk(delta: JsonDict, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse(None, {**base, "choices": [choice], **extra})

    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": REPLY}),
        chunk({}, "stop"),
    ]
    if include_usage:
        events.append(_sse(None, {**base, "choices": [], "usage": _chat_usage(usage)}))
    events.append(_sse(None, "[DONE]"))
    return events


def _responses_usage(usage: Usage) -> JsonDict:
    prompt = usage.input_tokens + usage.cache_read_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + usage.output_tokens,
    }


def _message_item(status: str, text: str | None) -> JsonDict:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
    return {
        "id": "msg_demo",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def responses_body(model: str, usage: Usage | None) -> JsonDict:
    return {
        "id": "resp_demo",
        "object": "response",
        "created_at": _CREATED,
        "status": "completed" if usage is not None else "in_progress",
        "model": model,
        "output": [_message_item("completed", REPLY)] if usage is not None else [],
        "usage": _responses_usage(usage) if usage is not None else None,
    }


def responses_events(model: str, usage: Usage) -> list[bytes]:
    sequence = iter(range(1_000))

    def ev(kind: str, **payload: Any) -> bytes:
        return _sse(kind, {"type": kind, "sequence_number": next(sequence), **payload})

    where = {"item_id": "msg_demo", "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": REPLY, "annotations": []}
    return [
        ev("response.created", response=responses_body(model, None)),
        ev("response.in_progress", response=responses_body(model, None)),
        ev("response.output_item.added", output_index=0, item=_message_item("in_progress", None)),
        ev("response.content_part.added", **where, part={**part, "text": ""}),
        ev("response.output_text.delta", **where, delta=REPLY),
        ev("response.output_text.done", **where, text=REPLY),
        ev("response.content_part.done", **where, part=part),
        ev("response.output_item.done", output_index=0, item=_message_item("completed", REPLY)),
        ev("response.completed", response=responses_body(model, usage)),
    ]


def _error(anthropic: bool, status: int, kind: str, message: str, **headers: str) -> web.Response:
    if anthropic:
        body: JsonDict = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return web.json_response(body, status=status, headers=headers)


class DemoUpstream:
    """One fake provider endpoint on a local port. `async with DemoUpstream() as up: up.url`."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.url = ""
        self.served = 0
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._generate)
        app.router.add_post("/v1/chat/completions", self._generate)
        app.router.add_post("/v1/responses", self._generate)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, reuse_address=True).start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @staticmethod
    def _credential(request: web.Request) -> str:
        bearer = request.headers.get("authorization", "")
        return request.headers.get("x-api-key") or bearer.removeprefix("Bearer ")

    def _authorised(self, request: web.Request) -> bool:
        return self.api_key is None or self._credential(request) == self.api_key

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        anthropic = request.path == "/v1/messages"
        if not self._authorised(request):
            kind = "authentication_error" if anthropic else "invalid_api_key"
            return _error(anthropic, 401, kind, "Invalid API key.")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            kind = "invalid_request_error"
            return _error(anthropic, 400, kind, "The body must be JSON naming a model.")
        demo = body.get(DEMO_FIELD)
        demo = demo if isinstance(demo, dict) else {}
        if self._credential(request) == demo.get("fail", "\0"):
            kind = "rate_limit_error" if anthropic else "rate_limit_exceeded"
            return _error(anthropic, 429, kind, "Rate limit reached.", **{"retry-after": "30"})
        model: str = body["model"]
        given = demo.get("usage")
        usage = parse_usage_header(given if isinstance(given, str) else None) or estimate_usage(
            raw, anthropic=anthropic
        )
        self.served += 1
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        if request.path == "/v1/messages":
            payload, events = anthropic_body(model, usage), anthropic_events(model, usage)
        elif request.path == "/v1/chat/completions":
            payload = chat_body(model, usage)
            events = chat_events(model, usage, include_usage=include_usage)
        else:
            payload, events = responses_body(model, usage), responses_events(model, usage)
        if body.get("stream") is not True:
            return web.json_response(payload)
        response = web.StreamResponse(
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    async def _count_tokens(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not self._authorised(request):
            return _error(True, 401, "authentication_error", "Invalid API key.")
        return web.json_response({"input_tokens": max(1, math.ceil(len(raw) / 4))})

    async def _models(self, request: web.Request) -> web.Response:
        anthropic = "anthropic-version" in request.headers
        if not self._authorised(request):
            kind = "authentication_error" if anthropic else "invalid_api_key"
            return _error(anthropic, 401, kind, "Invalid API key.")
        if anthropic:
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
                for m in MODELS
            ]
            return web.json_response(
                {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
            )
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": _CREATED, "owned_by": "spectra-demo"}
                    for m in MODELS
                ],
            }
        )
