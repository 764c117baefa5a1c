"""The google-genai SDK, pointed (through an httpx transport) at an upstream of another
protocol with translation in between, completes a function-calling turn streamed and not;
and the SDK accepts the fake Gemini upstream the other tests use."""

from __future__ import annotations

import json

import httpx2
import pytest
from google import genai
from google.genai import types as gtypes
from tests.fakes.gemini import FakeGemini
from tests.fakes.upstream import (
    Fail,
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

from .support import ANTHROPIC, CHAT, RESPONSES

GEMINI = WireProtocol.GEMINI
REPLY = Reply(
    text="Listing.",
    pieces=3,
    input_tokens=40,
    output_tokens=6,
    cache_read_tokens=8,
    tool_call=ToolCall(name="run_shell_command", arguments={"command": "ls"}, call_id="call_sdk"),
)
TOOL = gtypes.Tool(
    function_declarations=[
        gtypes.FunctionDeclaration(
            name="run_shell_command",
            description="Runs a shell command.",
            parameters_json_schema={
                "type": "object",
                "properties": {"command": {"type": "string"}},
            },
        )
    ]
)
CONFIG = gtypes.GenerateContentConfig(
    tools=[TOOL], system_instruction="You are Gemini CLI.", temperature=0
)
CONTENTS = "list the files"


def _answer(upstream: WireProtocol, request: httpx2.Request) -> httpx2.Response:
    """Translate a Gemini SDK request to `upstream`, answer as it would, translate back."""
    path = request.url.path
    model, _, method = path.rsplit("/", 1)[-1].partition(":")
    stream = method == "streamGenerateContent"
    assert stream == (request.url.params.get("alt") == "sse")
    assert request.headers["x-goog-api-key"] == "member-key"
    translated = translate_request(
        json.loads(request.content), client=GEMINI, upstream=upstream, model=model, stream=stream
    )
    body = translated.body
    if not stream:
        make = {ANTHROPIC: anthropic_body, CHAT: chat_body, RESPONSES: responses_body}[upstream]
        answer = translate_response(json.loads(make(REPLY, model)), translated.context)
        return httpx2.Response(200, json=answer)
    if upstream is ANTHROPIC:
        chunks = anthropic_events(REPLY, body["model"])
    elif upstream is CHAT:
        chunks = chat_events(REPLY, body["model"], include_usage=True)
    else:
        chunks = responses_events(REPLY, body["model"])
    translator = SSEStreamTranslator(translated.context)
    data = b"".join(translator.feed(c) for c in chunks) + translator.finish()
    return httpx2.Response(200, content=data, headers={"content-type": "text/event-stream"})


def _client(upstream: WireProtocol) -> genai.Client:
    http = httpx2.Client(transport=httpx2.MockTransport(lambda r: _answer(upstream, r)))
    options = gtypes.HttpOptions(base_url="http://gw", httpx_client=http)
    return genai.Client(api_key="member-key", http_options=options)


def _check(response: gtypes.GenerateContentResponse, *, call: bool = True) -> None:
    if call:
        (made,) = response.function_calls or []
        assert (made.name, made.args) == ("run_shell_command", {"command": "ls"})
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.cached_content_token_count) == (48, 8)


@pytest.mark.parametrize("upstream", [ANTHROPIC, CHAT, RESPONSES], ids=lambda p: p.value)
def test_genai_sdk_function_call_turn(upstream: WireProtocol) -> None:
    client = _client(upstream)
    plain = client.models.generate_content(model="m-1", contents=CONTENTS, config=CONFIG)
    assert plain.text == "Listing."
    _check(plain)
    chunks = list(
        client.models.generate_content_stream(model="m-1", contents=CONTENTS, config=CONFIG)
    )
    text = "".join(
        p.text or ""
        for c in chunks
        for p in (
            c.candidates[0].content.parts or [] if c.candidates and c.candidates[0].content else []
        )
    )
    assert text == "Listing."
    calls = [f for c in chunks for f in c.function_calls or []]
    assert [(f.name, f.args) for f in calls] == [("run_shell_command", {"command": "ls"})]
    _check(chunks[-1], call=False)
    assert chunks[-1].candidates is not None
    assert chunks[-1].candidates[0].finish_reason == gtypes.FinishReason.STOP


async def test_genai_sdk_accepts_the_fake_gemini() -> None:
    async with FakeGemini(api_key="AIza-real-looking", default=REPLY) as fake:
        options = gtypes.HttpOptions(base_url=fake.url, httpx_async_client=httpx2.AsyncClient())
        client = genai.Client(api_key="AIza-real-looking", http_options=options)
        plain = await client.aio.models.generate_content(
            model="gemini-2.5-pro", contents=CONTENTS, config=CONFIG
        )
        _check(plain)
        assert plain.text == "Listing."
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-pro", contents=CONTENTS, config=CONFIG
        )
        chunks = [c async for c in stream]
        _check(chunks[-1])
        path, query, headers, body = fake.requests[-1]
        assert path.endswith("/models/gemini-2.5-pro:streamGenerateContent")
        assert query == "alt=sse"
        assert headers["x-goog-api-key"] == "AIza-real-looking"
        assert body["systemInstruction"]["parts"] == [{"text": "You are Gemini CLI."}]
        fake.script.append(Fail("rate_limited"))
        with pytest.raises(genai.errors.ClientError) as caught:
            await client.aio.models.generate_content(model="gemini-2.5-pro", contents=CONTENTS)
        assert caught.value.code == 429
        assert caught.value.status == "RESOURCE_EXHAUSTED"
