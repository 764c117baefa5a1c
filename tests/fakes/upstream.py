"""A fake OpenAI/Anthropic upstream for tests, end-to-end runs, the benchmark and the demo.

Serves `POST /v1/messages`, `POST /v1/messages/count_tokens`, `POST /v1/chat/completions`,
`POST /v1/responses` and `GET /v1/models` in the event shapes real clients accept. Each
generation request takes the next behaviour from a script (`fake.script(...)`), else the
default `Reply()`: a text reply, a tool call, a typed error, a reset before headers, a
hang, a cut stream, per-chunk delay and a gate that withholds the second chunk, and a hostile
reply (`Misbehave`: no usage, absurd usage, garbage SSE, header floods; see `misbehave.py`).

In-process:  `async with FakeUpstream(api_key="sk-fake") as fake: ... fake.url ...`
As a process: `python -m tests.fakes.upstream --port 0 --api-key sk-fake` prints
`FAKE_UPSTREAM_URL=http://127.0.0.1:PORT` on its first line. Its `/_fake/script` endpoint
(POST a JSON list of behaviours) and `/_fake/requests` (GET) drive it from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .misbehave import Misbehave

JsonDict = dict[str, Any]


@dataclass
class ToolCall:
    name: str = "Bash"
    arguments: JsonDict = field(default_factory=lambda: {"command": "ls"})
    call_id: str = "toolu_fake01"


@dataclass
class Reply:
    """A successful answer (streamed when the request asks for it)."""

    text: str = "pong"
    input_tokens: int = 12
    output_tokens: int = 4
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_creation: dict[str, int] | None = None
    """Anthropic's `usage.cache_creation` breakdown by lifetime (`ephemeral_5m_input_tokens`,
    `ephemeral_1h_input_tokens`), sent as given; None: not sent."""
    web_search_requests: int | None = None
    """Anthropic's `usage.server_tool_use.web_search_requests`; None: not sent. Responses: that
    many `web_search_call` output items."""
    tool_call: ToolCall | None = None
    model: str | None = None
    """The served model; default: the request's."""
    pieces: int = 1
    """Split `text` into this many deltas."""
    chunk_delay: float = 0.0
    """Seconds to sleep before each streamed event after the first."""
    gate: asyncio.Event | None = None
    """Withhold the second (and later) events until the test sets this event."""
    cut_after: int | None = None
    """Drop the connection after this many events (streams) or half the body."""
    extra_headers: dict[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, str, bool, bool], list[bytes]] = field(
        default_factory=dict, repr=False, compare=False
    )


ERROR_KINDS = (
    "rate_limited",
    "overloaded",
    "auth_failed",
    "permission_denied",
    "invalid_request",
    "context_too_long",
    "server_error",
    "quota_exhausted",
)


@dataclass
class Fail:
    """A typed error in the protocol's own shape (see `ERROR_KINDS`)."""

    kind: str
    retry_after: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Reset:
    """Close the connection before sending any response headers."""


@dataclass
class Hang:
    """Sleep this long before answering (for first-byte timeouts)."""

    seconds: float = 3600.0


Behaviour = Reply | Fail | Reset | Hang | Misbehave


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)


def _sse(event: str | None, payload: JsonDict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _split(text: str, pieces: int) -> list[str]:
    if pieces <= 1 or len(text) <= 1:
        return [text]
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _anthropic_extra(reply: Reply, *, final: bool) -> JsonDict:
    """The usage fields beyond the four counts: the cache-write breakdown (in `message_start`
    and a whole body, as Anthropic sends it) and server tool calls (in the final usage)."""
    extra: JsonDict = {}
    if reply.cache_creation is not None:
        extra["cache_creation"] = dict(reply.cache_creation)
    if final and reply.web_search_requests is not None:
        extra["server_tool_use"] = {"web_search_requests": reply.web_search_requests}
    return extra


def anthropic_events(reply: Reply, model: str) -> list[bytes]:
    start_usage = {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cache_read_tokens,
        "output_tokens": 1,
        **_anthropic_extra(reply, final=False),
    }
    message: JsonDict = {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    events = [_sse("message_start", {"type": "message_start", "message": message})]
    index = 0
    if reply.text:
        events.append(
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        for piece in _split(reply.text, reply.pieces):
            delta = {"type": "text_delta", "text": piece}
            events.append(
                _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                )
            )
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    stop_reason = "end_turn"
    if reply.tool_call is not None:
        call = reply.tool_call
        block = {"type": "tool_use", "id": call.call_id, "name": call.name, "input": {}}
        events.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        delta = {"type": "input_json_delta", "partial_json": json.dumps(call.arguments)}
        events.append(
            _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        stop_reason = "tool_use"
    final_usage = {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cache_read_tokens,
        "output_tokens": reply.output_tokens,
        **({} if reply.web_search_requests is None else _anthropic_extra(reply, final=True)),
    }
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": final_usage,
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


def anthropic_body(reply: Reply, model: str) -> bytes:
    content: list[JsonDict] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    if reply.tool_call is not None:
        call = reply.tool_call
        content.append(
            {"type": "tool_use", "id": call.call_id, "name": call.name, "input": call.arguments}
        )
    body = {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_call else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.input_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
            "cache_read_input_tokens": reply.cache_read_tokens,
            "output_tokens": reply.output_tokens,
            **_anthropic_extra(reply, final=True),
        },
    }
    return json.dumps(body).encode()


def _openai_prompt_tokens(reply: Reply) -> int:
    """OpenAI counts cached tokens inside prompt/input tokens."""
    return reply.input_tokens + reply.cache_read_tokens


def chat_usage(reply: Reply) -> JsonDict:
    prompt = _openai_prompt_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": reply.output_tokens,
        "total_tokens": prompt + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def chat_events(reply: Reply, model: str, *, include_usage: bool) -> list[bytes]:
    base = {
        "id": "chatcmpl-fake01",
        "object": "chat.completion.chunk",
        "created": 1_795_000_000,
        "model": model,
    }
    extra: JsonDict = {"usage": None} if include_usage else {}

    def chunk(delta: JsonDict, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse(None, {**base, "choices": [choice], **extra})

    events = [chunk({"role": "assistant", "content": ""})]
    if reply.text:
        events.extend(chunk({"content": piece}) for piece in _split(reply.text, reply.pieces))
    finish = "stop"
    if reply.tool_call is not None:
        call = reply.tool_call
        tool = {
            "index": 0,
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        events.append(chunk({"tool_calls": [tool]}))
        finish = "tool_calls"
    events.append(chunk({}, finish))
    if include_usage:
        events.append(_sse(None, {**base, "choices": [], "usage": chat_usage(reply)}))
    events.append(_sse(None, "[DONE]"))
    return events


def chat_body(reply: Reply, model: str) -> bytes:
    message: JsonDict = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_call is not None:
        call = reply.tool_call
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
        ]
    body = {
        "id": "chatcmpl-fake01",
        "object": "chat.completion",
        "created": 1_795_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_call else "stop",
            }
        ],
        "usage": chat_usage(reply),
    }
    return json.dumps(body).encode()


def responses_usage(reply: Reply) -> JsonDict:
    prompt = _openai_prompt_tokens(reply)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": reply.cache_read_tokens},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + reply.output_tokens,
    }


def _responses_output(reply: Reply) -> list[JsonDict]:
    output: list[JsonDict] = [
        # OpenAI's web search tool: one `web_search_call` output item per search run.
        {
            "id": f"ws_fake{n:02d}",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": "spectra"},
        }
        for n in range(reply.web_search_requests or 0)
    ]
    if reply.text:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        output.append(
            {
                "id": "msg_fake01",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    if reply.tool_call is not None:
        call = reply.tool_call
        output.append(
            {
                "id": "fc_fake01",
                "type": "function_call",
                "status": "completed",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
        )
    return output


def _response_object(reply: Reply, model: str, *, done: bool) -> JsonDict:
    return {
        "id": "resp_fake01",
        "object": "response",
        "created_at": 1_795_000_000,
        "status": "completed" if done else "in_progress",
        "model": model,
        "output": _responses_output(reply) if done else [],
        "usage": responses_usage(reply) if done else None,
    }


def responses_events(reply: Reply, model: str) -> list[bytes]:
    seq = iter(range(1_000_000))

    def ev(kind: str, **payload: Any) -> bytes:
        return _sse(kind, {"type": kind, "sequence_number": next(seq), **payload})

    events = [
        ev("response.created", response=_response_object(reply, model, done=False)),
        ev("response.in_progress", response=_response_object(reply, model, done=False)),
    ]
    index = 0
    if reply.text:
        item = {
            "id": "msg_fake01",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        events.append(ev("response.output_item.added", output_index=0, item=item))
        empty = {"type": "output_text", "text": "", "annotations": []}
        events.append(
            ev(
                "response.content_part.added",
                item_id="msg_fake01",
                output_index=0,
                content_index=0,
                part=empty,
            )
        )
        for piece in _split(reply.text, reply.pieces):
            events.append(
                ev(
                    "response.output_text.delta",
                    item_id="msg_fake01",
                    output_index=0,
                    content_index=0,
                    delta=piece,
                )
            )
        events.append(
            ev(
                "response.output_text.done",
                item_id="msg_fake01",
                output_index=0,
                content_index=0,
                text=reply.text,
            )
        )
        full = {"type": "output_text", "text": reply.text, "annotations": []}
        events.append(
            ev(
                "response.content_part.done",
                item_id="msg_fake01",
                output_index=0,
                content_index=0,
                part=full,
            )
        )
        done_item = _responses_output(Reply(text=reply.text))[0]
        events.append(ev("response.output_item.done", output_index=0, item=done_item))
        index = 1
    if reply.tool_call is not None:
        call = reply.tool_call
        arguments = json.dumps(call.arguments)
        item = {
            "id": "fc_fake01",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": "",
        }
        events.append(ev("response.output_item.added", output_index=index, item=item))
        events.append(
            ev(
                "response.function_call_arguments.delta",
                item_id="fc_fake01",
                output_index=index,
                delta=arguments,
            )
        )
        events.append(
            ev(
                "response.function_call_arguments.done",
                item_id="fc_fake01",
                output_index=index,
                arguments=arguments,
            )
        )
        events.append(
            ev(
                "response.output_item.done",
                output_index=index,
                item={**item, "status": "completed", "arguments": arguments},
            )
        )
    events.append(ev("response.completed", response=_response_object(reply, model, done=True)))
    return events


def responses_body(reply: Reply, model: str) -> bytes:
    return json.dumps(_response_object(reply, model, done=True)).encode()


def make_body(protocol: str, reply: Reply, model: str) -> bytes:
    """A non-streamed answer of `protocol` (`anthropic`, `chat` or `responses`)."""
    maker = {"anthropic": anthropic_body, "chat": chat_body, "responses": responses_body}
    return maker[protocol](reply, model)


def make_events(protocol: str, reply: Reply, model: str, *, include_usage: bool) -> list[bytes]:
    """A streamed answer of `protocol`, one SSE event block per item."""
    if protocol == "anthropic":
        return anthropic_events(reply, model)
    if protocol == "chat":
        return chat_events(reply, model, include_usage=include_usage)
    return responses_events(reply, model)


_ANTHROPIC_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limited": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit.",
    ),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "auth_failed": (401, "authentication_error", "invalid x-api-key"),
    "permission_denied": (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    "invalid_request": (400, "invalid_request_error", "messages: field required"),
    "context_too_long": (
        400,
        "invalid_request_error",
        "prompt is too long: 250000 tokens > 200000 maximum",
    ),
    "server_error": (500, "api_error", "Internal server error"),
    "quota_exhausted": (
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
    ),
}
_OPENAI_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "rate_limited": (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for gpt-5 on requests per min (RPM).",
    ),
    "overloaded": (
        503,
        "server_error",
        None,
        "The engine is currently overloaded, please try again later.",
    ),
    "auth_failed": (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-bad*****1234.",
    ),
    "permission_denied": (
        403,
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    "invalid_request": (
        400,
        "invalid_request_error",
        None,
        "Missing required parameter: 'messages'.",
    ),
    "context_too_long": (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 250000 tokens.",
    ),
    "server_error": (
        500,
        "server_error",
        None,
        "The server had an error while processing your request.",
    ),
    "quota_exhausted": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
}


def error_response(
    kind: str,
    *,
    anthropic: bool,
    retry_after: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    """A typed error in Anthropic's or OpenAI's error shape."""
    headers = dict(extra_headers or {})
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if anthropic:
        status, err_type, message = _ANTHROPIC_ERRORS[kind]
        body: JsonDict = {"type": "error", "error": {"type": err_type, "message": message}}
        headers.setdefault("request-id", "req_fake01")
    else:
        status, err_type, code, message = _OPENAI_ERRORS[kind]
        body = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
        headers.setdefault("x-request-id", "req_fake01")
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


_ANTHROPIC_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens"})
_GENERATION = {
    "/v1/messages": "anthropic",
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
}
DEFAULT_MODELS = ("claude-sonnet-4-5", "claude-opus-4-8", "gpt-5", "gpt-5-codex")


class FakeUpstream:
    """The scriptable fake. One instance = one upstream with one expected credential."""

    def __init__(
        self,
        *,
        api_key: str | None = "sk-fake-upstream",
        models: tuple[str, ...] = DEFAULT_MODELS,
        default: Reply | None = None,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.default = default or Reply()
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._script: deque[Behaviour] = deque()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.url = ""
        self.app = self._make_app()

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each generation request takes the next, then `default`."""
        self._script.extend(behaviours)

    @property
    def pending(self) -> int:
        return len(self._script)

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._generate)
        app.router.add_post("/v1/chat/completions", self._generate)
        app.router.add_post("/v1/responses", self._generate)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/_fake/script", self._remote_script)
        app.router.add_get("/_fake/requests", self._remote_requests)
        return app

    async def start(self) -> str:
        self._closing.clear()
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        sockets = self._runner.addresses
        port = sockets[0][1]
        self.url = f"http://{self._host}:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing.set()
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

    async def _recorded(self, request: web.Request) -> bytes:
        body = await request.read()
        if self.record:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.query_string,
                    headers=list(request.headers.items()),
                    body=body,
                )
            )
        return body

    def _authorised(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        bearer = request.headers.get("authorization") == f"Bearer {self.api_key}"
        if request.path in _ANTHROPIC_PATHS or "x-api-key" in request.headers:
            # Anthropic takes `x-api-key`; its Python SDK sends `Authorization: Bearer`.
            return request.headers.get("x-api-key") == self.api_key or bearer
        return bearer

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        raw = await self._recorded(request)
        anthropic = request.path == "/v1/messages"
        if not self._authorised(request):
            return error_response("auth_failed", anthropic=anthropic)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise TypeError
        except (ValueError, TypeError):
            return error_response("invalid_request", anthropic=anthropic)
        behaviour = self._script.popleft() if self._script else self.default
        if isinstance(behaviour, Fail):
            return error_response(
                behaviour.kind,
                anthropic=anthropic,
                retry_after=behaviour.retry_after,
                extra_headers=behaviour.extra_headers,
            )
        if isinstance(behaviour, Reset):
            _abort(request)
            return web.Response(status=500)
        if isinstance(behaviour, Hang):
            await self._wait(None, behaviour.seconds)
            if self._closing.is_set():
                _abort(request)
                return web.Response(status=500)
            behaviour = self.default
        hostile = behaviour if isinstance(behaviour, Misbehave) else None
        reply = behaviour.reply or self.default if isinstance(behaviour, Misbehave) else behaviour
        protocol = _GENERATION[request.path]
        model = reply.model or str(body.get("model") or "fake-model")
        stream = body.get("stream") is True
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        if hostile is not None:
            return await self._hostile(request, hostile, reply, protocol, model, stream)
        if not stream:
            return await self._json_reply(request, reply, protocol, model)
        key = (protocol, model, stream, include_usage)
        events = reply._cache.get(key)
        if events is None:
            events = make_events(protocol, reply, model, include_usage=include_usage)
            reply._cache[key] = events
        return await self._stream(request, reply, events, anthropic=anthropic)

    async def _hostile(
        self,
        request: web.Request,
        hostile: Misbehave,
        reply: Reply,
        protocol: str,
        model: str,
        stream: bool,
    ) -> web.StreamResponse:
        headers = {**reply.extra_headers, **hostile.headers()}
        if not stream:
            body = hostile.spoil_body(make_body(protocol, reply, model))
            return web.Response(body=body, content_type="application/json", headers=headers)
        events = make_events(protocol, reply, model, include_usage=True)
        spoiled = Reply(extra_headers=headers)
        return await self._stream(
            request,
            spoiled,
            [hostile.spoil_event(e) for e in events],
            anthropic=protocol == "anthropic",
        )

    async def _json_reply(
        self, request: web.Request, reply: Reply, protocol: str, model: str
    ) -> web.StreamResponse:
        key = (protocol, model, False, False)
        cached = reply._cache.get(key)
        if cached is None:
            cached = [make_body(protocol, reply, model)]
            reply._cache[key] = cached
        body = cached[0]
        headers = {"content-type": "application/json", **reply.extra_headers}
        if reply.cut_after is None:
            return web.Response(body=body, headers=headers)
        resp = web.StreamResponse(headers={**headers, "content-length": str(len(body))})
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        _abort(request)
        return resp

    async def _stream(
        self, request: web.Request, reply: Reply, events: list[bytes], *, anthropic: bool
    ) -> web.StreamResponse:
        headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            **reply.extra_headers,
        }
        if anthropic:
            headers.setdefault("request-id", "req_fake01")
        simple = reply.chunk_delay <= 0 and reply.gate is None and reply.cut_after is None
        resp = web.StreamResponse(headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if simple:
            await resp.write(b"".join(events))
            await resp.write_eof()
            return resp
        for number, event in enumerate(events):
            if reply.cut_after is not None and number >= reply.cut_after:
                _abort(request)
                return resp
            if number == 1 and reply.gate is not None:
                await self._wait(reply.gate, None)
                if self._closing.is_set():
                    _abort(request)
                    return resp
            if number and reply.chunk_delay > 0:
                await asyncio.sleep(reply.chunk_delay)
            await resp.write(event)
        await resp.write_eof()
        return resp

    async def _wait(self, event: asyncio.Event | None, seconds: float | None) -> None:
        """Wait for `event` (or `seconds`), but never past `stop()`."""
        waiters = [asyncio.ensure_future(self._closing.wait())]
        if event is not None:
            waiters.append(asyncio.ensure_future(event.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _count_tokens(self, request: web.Request) -> web.Response:
        raw = await self._recorded(request)
        if not self._authorised(request):
            return error_response("auth_failed", anthropic=True)
        return web.json_response({"input_tokens": max(1, len(raw) // 4)})

    async def _models(self, request: web.Request) -> web.Response:
        await self._recorded(request)
        anthropic = "anthropic-version" in request.headers
        if not self._authorised(request):
            return error_response("auth_failed", anthropic=anthropic)
        if anthropic:
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
                for m in self.models
            ]
            return web.json_response(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": self.models[0] if self.models else None,
                    "last_id": self.models[-1] if self.models else None,
                }
            )
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1_795_000_000, "owned_by": "fake"}
                    for m in self.models
                ],
            }
        )

    async def _remote_script(self, request: web.Request) -> web.Response:
        items = await request.json()
        self.script(*(behaviour_from_json(item) for item in items))
        return web.json_response({"pending": self.pending})

    async def _remote_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "headers": r.headers,
                    "body_b64": base64.b64encode(r.body).decode(),
                }
                for r in self.requests
            ]
        )


def behaviour_from_json(item: JsonDict) -> Behaviour:
    """`{"kind": "reply", ...Reply fields}`, `{"kind": "fail", "type": ..., "retry_after": ...}`,
    `{"kind": "reset"}` or `{"kind": "hang", "seconds": ...}`."""
    kind = item.get("kind", "reply")
    if kind == "fail":
        return Fail(kind=str(item["type"]), retry_after=item.get("retry_after"))
    if kind == "reset":
        return Reset()
    if kind == "hang":
        return Hang(seconds=float(item.get("seconds", 3600.0)))
    fields = {
        k: v
        for k, v in item.items()
        if k in Reply.__dataclass_fields__ and k not in ("gate", "_cache", "tool_call")
    }
    tool = item.get("tool_call")
    return Reply(**fields, tool_call=ToolCall(**tool) if isinstance(tool, dict) else None)


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeUpstream(
        api_key=args.api_key or None, record=not args.no_record, host=args.host, port=args.port
    )
    url = await fake.start()
    sys.stdout.write(f"FAKE_UPSTREAM_URL={url}\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI/Anthropic upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--api-key", default="sk-fake-upstream", help="expected credential; '' accepts any"
    )
    parser.add_argument("--no-record", action="store_true", help="keep no request log (benchmarks)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
