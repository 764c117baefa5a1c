"""The official SDK clients, pointed (through an httpx transport) at an upstream of another
protocol with translation in between, complete a streamed and a non-streamed tool-call turn."""

from __future__ import annotations

import json

import anthropic
import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from openai.types.responses import FunctionToolParam
from tests.fakes.upstream import (
    Reply,
    ToolCall,
    anthropic_body,
    anthropic_events,
    chat_body,
    chat_events,
    responses_body,
    responses_events,
)

from spectra.providers.translate import SSEStreamTranslator, translate_request, translate_response
from spectra.providers.types import WireProtocol

from .support import ANTHROPIC, CHAT, PATHS, RESPONSES

REPLY = Reply(
    text="Listing.",
    pieces=3,
    input_tokens=40,
    output_tokens=6,
    cache_read_tokens=8,
    tool_call=ToolCall(name="Bash", arguments={"command": "ls"}, call_id="call_sdk"),
)
SCHEMA: dict[str, object] = {"type": "object", "properties": {"command": {"type": "string"}}}


def _answer(upstream: WireProtocol, path: str, content: bytes) -> tuple[dict[str, str], bytes]:
    """Translates a request to `upstream`, answers as that upstream would, translates back."""
    translated = translate_request(json.loads(content), client=PATHS[path], upstream=upstream)
    model = translated.body["model"]
    if not translated.body.get("stream"):
        make = {ANTHROPIC: anthropic_body, CHAT: chat_body, RESPONSES: responses_body}[upstream]
        answer = translate_response(json.loads(make(REPLY, model)), translated.context)
        return {"content-type": "application/json"}, json.dumps(answer).encode()
    if upstream is ANTHROPIC:
        chunks = anthropic_events(REPLY, model)
    elif upstream is CHAT:
        chunks = chat_events(REPLY, model, include_usage=True)
    else:
        chunks = responses_events(REPLY, model)
    stream = SSEStreamTranslator(translated.context)
    data = b"".join(stream.feed(c) for c in chunks) + stream.finish()
    return {"content-type": "text/event-stream"}, data


def _transport(upstream: WireProtocol) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        headers, data = _answer(upstream, request.url.path, request.content)
        return httpx2.Response(200, content=data, headers=headers)

    return httpx2.MockTransport(handle)


def _clients(upstream: WireProtocol) -> tuple[anthropic.Anthropic, openai.OpenAI]:
    http = httpx2.Client(transport=_transport(upstream))
    return (
        anthropic.Anthropic(api_key="k", base_url="http://gw", http_client=http),
        openai.OpenAI(api_key="k", base_url="http://gw/v1", http_client=http),
    )


@pytest.mark.parametrize("upstream", [CHAT, RESPONSES], ids=lambda p: p.value)
def test_anthropic_sdk_tool_turn(upstream: WireProtocol) -> None:
    client, _ = _clients(upstream)
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "list"}]
    tools: list[anthropic.types.ToolParam] = [{"name": "Bash", "input_schema": SCHEMA}]
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=messages, tools=tools
    ) as stream:
        streamed = stream.get_final_message()
    plain = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=100, messages=messages, tools=tools
    )
    for message in (streamed, plain):
        assert [b.type for b in message.content] == ["text", "tool_use"]
        call = message.content[1]
        assert call.type == "tool_use"
        assert call.input == {"command": "ls"}
        assert message.stop_reason == "tool_use"
        assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (40, 8)


@pytest.mark.parametrize("upstream", [ANTHROPIC, RESPONSES], ids=lambda p: p.value)
def test_openai_sdk_chat_tool_turn(upstream: WireProtocol) -> None:
    _, client = _clients(upstream)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "list"}]
    tools: list[ChatCompletionToolParam] = [
        {"type": "function", "function": {"name": "Bash", "parameters": SCHEMA}}
    ]
    with client.chat.completions.stream(
        model="gpt-5", messages=messages, tools=tools, stream_options={"include_usage": True}
    ) as stream:
        streamed = stream.get_final_completion()
    plain = client.chat.completions.create(model="gpt-5", messages=messages, tools=tools)
    for completion in (streamed, plain):
        message = completion.choices[0].message
        assert message.content == "Listing."
        (call,) = message.tool_calls or []
        assert call.type == "function"
        assert json.loads(call.function.arguments) == {"command": "ls"}
        assert completion.choices[0].finish_reason == "tool_calls"
        assert completion.usage is not None
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (48, 6)


@pytest.mark.parametrize("upstream", [ANTHROPIC, CHAT], ids=lambda p: p.value)
def test_openai_sdk_responses_tool_turn(upstream: WireProtocol) -> None:
    _, client = _clients(upstream)
    tools: list[FunctionToolParam] = [
        {"type": "function", "name": "Bash", "parameters": SCHEMA, "strict": False}
    ]
    with client.responses.stream(model="gpt-5", input="list", tools=tools) as stream:
        streamed = stream.get_final_response()
    plain = client.responses.create(model="gpt-5", input="list", tools=tools)
    for response in (streamed, plain):
        assert response.output_text == "Listing."
        call = response.output[-1]
        assert call.type == "function_call"
        assert json.loads(call.arguments) == {"command": "ls"}
        assert response.usage is not None
        assert response.usage.input_tokens_details.cached_tokens == 8
