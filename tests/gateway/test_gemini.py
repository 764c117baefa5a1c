"""The Gemini API surface: the google-genai SDK (as Gemini CLI does) completes a function-call
turn streamed and not on a pool of Anthropic accounts, charged at the upstream's usage; the
key by `x-goog-api-key` or `?key=`; refusals in Gemini's error shape; countTokens and the
model list."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import pytest
import pytest_asyncio
from google import genai
from google.genai import types as gtypes
from tests.fakes.gemini import FakeGemini, thought_signature
from tests.fakes.upstream import FakeUpstream, Reply, ToolCall

from .world import UPSTREAM_KEY, World, expected_cost, serve

CLAUDE = "claude-sonnet-4-5"
TOOL = gtypes.Tool(
    function_declarations=[
        gtypes.FunctionDeclaration(
            name="run_shell_command",
            description="Runs a shell command.",
            parameters_json_schema={
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        )
    ]
)
CONFIG = gtypes.GenerateContentConfig(tools=[TOOL], system_instruction="You are Gemini CLI.")
USAGE: dict[str, Any] = {"input_tokens": 30, "output_tokens": 7, "cache_read_tokens": 5}


@pytest_asyncio.fixture
async def claude_only(world: World, fake: FakeUpstream) -> World:
    await world.add_account(
        "claude-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.recharge("10")
    return world


def _client(base: str, key: str) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=base, api_version="v1beta", httpx_async_client=httpx2.AsyncClient()
    )
    return genai.Client(api_key=key, http_options=options)


async def test_genai_sdk_tool_turn_on_anthropic_accounts(
    app: object, claude_only: World, fake: FakeUpstream
) -> None:
    call = ToolCall(name="run_shell_command", arguments={"command": "ls"})
    fake.script(
        Reply(text="Listing.", tool_call=call, **USAGE),
        Reply(text="Two files.", pieces=3, **USAGE),
    )
    async with serve(app) as base:
        client = _client(base, claude_only.secret)
        plain = await client.aio.models.generate_content(
            model=CLAUDE, contents="list the files", config=CONFIG
        )
        (made,) = plain.function_calls or []
        assert (made.name, made.args) == ("run_shell_command", {"command": "ls"})
        assert plain.usage_metadata is not None
        assert plain.usage_metadata.prompt_token_count == 35
        contents: list[Any] = [
            gtypes.Content(role="user", parts=[gtypes.Part(text="list the files")]),
            plain.candidates[0].content if plain.candidates else None,
            gtypes.Content(
                role="user",
                parts=[
                    gtypes.Part.from_function_response(
                        name="run_shell_command", response={"output": "a.txt\nb.txt"}
                    )
                ],
            ),
        ]
        stream = await client.aio.models.generate_content_stream(
            model=CLAUDE, contents=contents, config=CONFIG
        )
        chunks = [c async for c in stream]
    text = "".join(c.text or "" for c in chunks if c.candidates and c.candidates[0].content)
    assert text == "Two files."
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.candidates_token_count == 7
    assert [r.path for r in fake.requests] == ["/v1/messages"] * 2
    second = fake.requests[1].json()
    assert second["stream"] is True
    assert second["system"] == "You are Gemini CLI." or "Gemini CLI" in str(second["system"])
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == second["messages"][-2]["content"][-1]["id"]
    await claude_only.settle()
    records = await claude_only.records()
    charge = expected_cost(30, 7, 5)
    assert [(r.protocol, r.status, r.cost_micros) for r in records] == [
        ("gemini_generate_content", "ok", charge)
    ] * 2


async def test_key_by_query_and_refusals_in_gemini_shape(
    app: object, claude_only: World, fake: FakeUpstream
) -> None:
    path = f"/v1beta/models/{CLAUDE}:generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        ok = await http.post(path, params={"key": claude_only.secret}, json=body)
        assert ok.status_code == 200, ok.text
        assert ok.json()["candidates"][0]["content"]["parts"][0]["text"] == "pong"
        missing = await http.post(path, json=body)
        assert missing.status_code == 401
        error = missing.json()["error"]
        assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
        assert error["reason_code"]
        unknown = await http.post(
            "/v1beta/models/gemini-9-ultra:generateContent",
            headers={"x-goog-api-key": claude_only.secret},
            json=body,
        )
        assert unknown.status_code == 402  # no price, so no way to charge it
        refusal = unknown.json()["error"]
        assert (refusal["code"], refusal["status"]) == (402, "RESOURCE_EXHAUSTED")
        assert refusal["reason_code"] == "model_unpriced"
        counted = await http.post(
            f"/v1beta/models/{CLAUDE}:countTokens",
            headers={"x-goog-api-key": claude_only.secret},
            json=body,
        )
        assert counted.status_code == 200
        assert counted.json()["totalTokens"] > 0
        listed = await http.get("/v1beta/models", params={"key": claude_only.secret})
        assert listed.status_code == 200
        names = [m["name"] for m in listed.json()["models"]]
        assert f"models/{CLAUDE}" in names
    assert len(fake.requests) == 1


async def test_genai_sdk_sees_a_refusal_as_its_client_error(
    app: object, claude_only: World
) -> None:
    async with serve(app) as base:
        client = _client(base, "sk-not-a-spectra-key")
        with pytest.raises(genai.errors.ClientError) as caught:
            await client.aio.models.generate_content(model=CLAUDE, contents="hi")
    assert caught.value.code == 401
    assert caught.value.status == "UNAUTHENTICATED"


GEMINI_MODEL = "gemini-2.5-flash"


@pytest_asyncio.fixture
async def gemini_pool(world: World) -> AsyncIterator[tuple[World, FakeGemini]]:
    """One Gemini (AI Studio) account on the fake Gemini API, serving gemini-* only."""
    async with FakeGemini(api_key=UPSTREAM_KEY) as fake:
        await world.add_account(
            "gemini-a", provider="gemini", base_url=fake.url, models=["gemini-*"]
        )
        await world.recharge("10")
        yield world, fake


async def test_gemini_callers_reach_gemini_accounts_untranslated(
    app: object, gemini_pool: tuple[World, FakeGemini]
) -> None:
    world, fake = gemini_pool
    fake.default = Reply(text="Hello from Gemini.", pieces=3, **USAGE)
    async with serve(app) as base:
        client = _client(base, world.secret)
        plain = await client.aio.models.generate_content(
            model=GEMINI_MODEL, contents="hi", config=CONFIG
        )
        stream = await client.aio.models.generate_content_stream(
            model=GEMINI_MODEL, contents="hi", config=CONFIG
        )
        chunks = [c async for c in stream]
    assert plain.text == "Hello from Gemini."
    assert "".join(c.text or "" for c in chunks) == "Hello from Gemini."
    paths = [(path, query) for path, query, _, _ in fake.requests]
    assert paths == [
        (f"/v1beta/models/{GEMINI_MODEL}:generateContent", ""),
        (f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent", "alt=sse"),
    ]
    for _, _, headers, body in fake.requests:
        assert headers["x-goog-api-key"] == UPSTREAM_KEY  # the account's key, never the member's
        assert "model" not in body
        assert "stream" not in body
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.input_tokens, r.output_tokens) for r in records] == [
        ("gemini_generate_content", "ok", 30, 7)
    ] * 2


async def test_openai_callers_are_translated_to_gemini_accounts(
    app: object, gemini_pool: tuple[World, FakeGemini]
) -> None:
    world, fake = gemini_pool
    fake.default = Reply(text="Translated.", pieces=2, **USAGE)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        body = {"model": GEMINI_MODEL, "messages": [{"role": "user", "content": "hi"}]}
        answer = await http.post("/v1/chat/completions", headers=world.headers(), json=body)
        streamed = await http.post(
            "/v1/chat/completions", headers=world.headers(), json=body | {"stream": True}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Translated."
    assert answer.json()["usage"]["prompt_tokens"] == 35
    assert streamed.status_code == 200
    assert '"content":"Transl' in streamed.text
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert [query for _, query, _, _ in fake.requests] == ["", "alt=sse"]
    assert fake.requests[0][3]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.cache_read_tokens) for r in records] == [
        ("openai_chat", "ok", 5)
    ] * 2


async def test_thought_signatures_round_trip_on_a_gemini_account(
    app: object, gemini_pool: tuple[World, FakeGemini]
) -> None:
    """The signature Gemini put on a function call reaches the SDK, and the SDK's next turn
    carries it back upstream untouched; a turn that lost it is refused there (Gemini 3's 400,
    passed to the caller)."""
    world, fake = gemini_pool
    call = ToolCall(name="run_shell_command", arguments={"command": "ls"}, call_id="fc_1")
    fake.script.extend([Reply(text="", tool_call=call, **USAGE), Reply(text="Done.", **USAGE)])
    async with serve(app) as base:
        client = _client(base, world.secret)
        first = await client.aio.models.generate_content(
            model=GEMINI_MODEL, contents="list the files", config=CONFIG
        )
        assert first.candidates
        assert first.candidates[0].content
        model_turn = first.candidates[0].content
        (part,) = [p for p in model_turn.parts or [] if p.function_call]
        assert part.thought_signature == base64.b64decode(thought_signature("fc_1"))
        answer = gtypes.Content(
            role="user",
            parts=[
                gtypes.Part.from_function_response(
                    name="run_shell_command", response={"output": "a.txt"}
                )
            ],
        )
        asked = gtypes.Content(role="user", parts=[gtypes.Part(text="list the files")])
        stream = await client.aio.models.generate_content_stream(
            model=GEMINI_MODEL, contents=[asked, model_turn, answer], config=CONFIG
        )
        assert "".join([c.text or "" async for c in stream]) == "Done."
        part.thought_signature = None
        with pytest.raises(genai.errors.ClientError) as caught:
            await client.aio.models.generate_content(
                model=GEMINI_MODEL, contents=[asked, model_turn, answer], config=CONFIG
            )
    assert caught.value.code == 400
    echoed = fake.requests[1][3]["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in echoed] == [thought_signature("fc_1")]
    assert len(fake.requests) == 3
    await world.settle()
    records = await world.records()
    assert [r.status for r in records][:2] == ["ok", "ok"]
