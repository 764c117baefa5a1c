"""Shared helpers for the translation tests: the recorded client requests (with the tool
schemas the recorder trimmed put back), validation against the official SDKs' request types,
and the SDKs' own stream accumulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from openai import omit
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_create_params import (
    ResponseCreateParamsNonStreaming,
    ResponseCreateParamsStreaming,
)
from pydantic import TypeAdapter

from spectra.providers.types import WireProtocol

ANTHROPIC = WireProtocol.ANTHROPIC_MESSAGES
CHAT = WireProtocol.OPENAI_CHAT
RESPONSES = WireProtocol.OPENAI_RESPONSES
PATHS = {"/v1/messages": ANTHROPIC, "/v1/chat/completions": CHAT, "/v1/responses": RESPONSES}
RECORDINGS = Path(__file__).parents[2] / "fixtures" / "client-recordings"
JsonDict = dict[str, Any]

_SCHEMA: JsonDict = {
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
}
_GRAMMAR: JsonDict = {"type": "grammar", "syntax": "lark", "definition": "start: /(.|\\n)+/"}


def _restore_responses_tool(tool: JsonDict) -> JsonDict:
    if tool.get("type") == "namespace":
        inner: list[JsonDict] = [
            {"type": "function", "name": f"{tool['name']}_status", "parameters": _SCHEMA}
        ]
        if tool["name"] == "functions":
            inner.append(
                {"type": "custom", "name": "exec", "description": "Run JS", "format": _GRAMMAR}
            )
        return {"type": "namespace", "name": tool["name"], "description": "tools", "tools": inner}
    if tool.get("type") == "function":
        return {
            "type": "function",
            "name": tool["name"],
            "description": f"{tool['name']} tool",
            "parameters": _SCHEMA,
            "strict": False,
        }
    return {"type": tool["type"]}


def _restore(protocol: WireProtocol, body: JsonDict) -> JsonDict:
    """Put back the tool definitions the recorder cut to their keys."""
    body = json.loads(json.dumps(body))
    if protocol is ANTHROPIC:
        body["tools"] = [
            {"name": t["name"], "description": f"{t['name']} tool", "input_schema": _SCHEMA}
            for t in body.get("tools") or []
        ]
        if not body["tools"]:
            del body["tools"]
    elif protocol is RESPONSES:
        if body.get("tools"):
            body["tools"] = [_restore_responses_tool(t) for t in body["tools"]]
        items = body.get("input")
        for item in items if isinstance(items, list) else []:
            if item.get("type") == "additional_tools":
                item["tools"] = [_restore_responses_tool(t) for t in item["tools"]]
    return body


@cache
def recorded_requests() -> list[tuple[str, WireProtocol, JsonDict]]:
    """(id, protocol, body) of every generation request a real client sent."""
    out = []
    for path in sorted(RECORDINGS.glob("*.jsonl")):
        for n, line in enumerate(path.read_text().splitlines()):
            record = json.loads(line)
            protocol = PATHS.get(record.get("path"))
            if record.get("method") == "POST" and protocol and isinstance(record.get("body"), dict):
                out.append((f"{path.stem}-{n}", protocol, _restore(protocol, record["body"])))
    return out


_PARAMS: dict[tuple[WireProtocol, bool], Any] = {
    (ANTHROPIC, True): MessageCreateParamsStreaming,
    (ANTHROPIC, False): MessageCreateParamsNonStreaming,
    (CHAT, True): CompletionCreateParamsStreaming,
    (CHAT, False): CompletionCreateParamsNonStreaming,
    (RESPONSES, True): ResponseCreateParamsStreaming,
    (RESPONSES, False): ResponseCreateParamsNonStreaming,
}


@cache
def _adapter(protocol: WireProtocol, stream: bool) -> TypeAdapter[Any]:
    return TypeAdapter(_PARAMS[protocol, stream])


def _materialise(value: Any) -> Any:
    if isinstance(value, Iterator):  # pydantic validates Iterable fields lazily
        return [_materialise(v) for v in value]
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_materialise(v) for v in value]
    return value


def sdk_request(protocol: WireProtocol, body: JsonDict) -> JsonDict:
    """`body` as the SDK's request type reads it. It equals `body` only when every field
    exists under that name and type (the SDK drops unknown keys, so a stray key shows).
    Claude Code's `role: "system"` messages are outside the SDK's types and left out."""
    if protocol is ANTHROPIC:
        body = body | {"messages": [m for m in body["messages"] if m["role"] != "system"]}
    return _materialise(_adapter(protocol, bool(body.get("stream"))).validate_python(body))  # type: ignore[no-any-return]


def without_system_messages(body: JsonDict) -> JsonDict:
    return body | {"messages": [m for m in body["messages"] if m["role"] != "system"]}


def anthropic_final(events: list[JsonDict]) -> Message:
    """Fold Anthropic stream events the way the anthropic SDK's MessageStream does."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)  # type: ignore[arg-type]
    assert snapshot is not None
    return snapshot


def chat_final(chunks: list[JsonDict]) -> ChatCompletion:
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


_RESPONSE_EVENTS: dict[str, Any] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def responses_final(events: list[JsonDict]) -> Response:
    """Validate each event as the SDK's event model and fold them with its stream state."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[], text_format=omit)
    final = None
    for event in events:
        parsed = _RESPONSE_EVENTS[event["type"]].model_validate(event)
        state.handle_event(parsed)
        if parsed.type in ("response.completed", "response.incomplete"):
            final = parsed.response
    assert final is not None
    return Response.model_validate(final.model_dump())
