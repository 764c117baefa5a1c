"""Gemini on Vertex AI: one `vertex` account serving both Claude and Gemini models speaks each
model's protocol (Gemini models under `publishers/google`, Claude under
`publishers/anthropic`), with the bearer token exchanged from its service-account key. Gemini
callers reach Gemini models untranslated, thought signatures included; Anthropic and OpenAI
callers reach them translated; a Gemini caller asking for Claude reaches rawPredict. Charged at
Vertex's price for the served model."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import httpx2
import pytest_asyncio
from google import genai
from google.genai import types as gtypes
from tests.fakes.clouds import FakeVertex, service_account_info
from tests.fakes.gemini import thought_signature
from tests.fakes.upstream import Reply, ToolCall

from spectra.db.session import session_scope
from spectra.kit.money import round_micros
from spectra.usage import service as usage_service

from .world import OWNER, World, serve

GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4-5"
PRICE = {"input": "0.3", "output": "2.5", "cache_read": "0.075", "cache_write": "0"}
USAGE: dict[str, Any] = {"input_tokens": 30, "output_tokens": 7, "cache_read_tokens": 5}
GOOGLE = "/v1/projects/acme-ai/locations/us-central1/publishers/google/models/"
ANTHROPIC = "/v1/projects/acme-ai/locations/us-central1/publishers/anthropic/models/"
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


def _vertex_cost(input_tokens: int, output_tokens: int, cache_read: int) -> int:
    total = (
        input_tokens * Decimal(PRICE["input"])
        + output_tokens * Decimal(PRICE["output"])
        + cache_read * Decimal(PRICE["cache_read"])
    )
    return int(round_micros(total))


@pytest_asyncio.fixture
async def vertex_pool(world: World) -> AsyncIterator[tuple[World, FakeVertex]]:
    async with FakeVertex(public_pem=b"", project="acme-ai") as fake:
        info, fake.public_pem = service_account_info(f"{fake.url}/token", project="acme-ai")
        await world.add_account(
            "vertex-central",
            provider="vertex",
            base_url=fake.url,
            api_key=json.dumps(info),
            region="us-central1",
            models=["claude-*", "gemini-*"],
        )
        async with session_scope(world.runtime.db) as session:
            await usage_service.set_price(
                session,
                OWNER,
                model=f"vertex/{GEMINI}",
                input=PRICE["input"],
                output=PRICE["output"],
                cache_read=PRICE["cache_read"],
                cache_write=PRICE["cache_write"],
            )
        await world.recharge("10")
        yield world, fake


def _client(base: str, key: str) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=base, api_version="v1beta", httpx_async_client=httpx2.AsyncClient()
    )
    return genai.Client(api_key=key, http_options=options)


async def test_gemini_callers_reach_gemini_on_vertex_with_thought_signatures(
    app: object, vertex_pool: tuple[World, FakeVertex]
) -> None:
    world, fake = vertex_pool
    call = ToolCall(name="run_shell_command", arguments={"command": "ls"}, call_id="fc_v1")
    fake.script.extend(
        [Reply(text="", tool_call=call, **USAGE), Reply(text="Two files.", pieces=3, **USAGE)]
    )
    config = gtypes.GenerateContentConfig(tools=[TOOL])
    async with serve(app) as base:
        client = _client(base, world.secret)
        first = await client.aio.models.generate_content(
            model=GEMINI, contents="list the files", config=config
        )
        assert first.candidates
        assert first.candidates[0].content
        model_turn = first.candidates[0].content
        (part,) = [p for p in model_turn.parts or [] if p.function_call]
        assert part.thought_signature == base64.b64decode(thought_signature("fc_v1"))
        contents = [
            gtypes.Content(role="user", parts=[gtypes.Part(text="list the files")]),
            model_turn,
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
            model=GEMINI, contents=contents, config=config
        )
        text = "".join([c.text or "" async for c in stream])
    assert text == "Two files."
    assert [path for path, _, _ in fake.requests] == [
        f"{GOOGLE}{GEMINI}:generateContent",
        f"{GOOGLE}{GEMINI}:streamGenerateContent?alt=sse",
    ]
    for _, headers, _ in fake.requests:
        assert headers["Authorization"] in {f"Bearer {t}" for t in fake.issued}
        assert "x-goog-api-key" not in {k.lower() for k in headers}
    echoed = json.loads(fake.requests[1][2])["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in echoed] == [thought_signature("fc_v1")]
    await world.settle()
    records = await world.records()
    charge = _vertex_cost(30, 7, 5)
    assert [(r.protocol, r.status, r.model_served, r.cost_micros) for r in records] == [
        ("gemini_generate_content", "ok", GEMINI, charge)
    ] * 2


async def test_other_callers_are_translated_by_the_model_each_serves(
    app: object, vertex_pool: tuple[World, FakeVertex]
) -> None:
    world, fake = vertex_pool
    fake.default = Reply(text="From Vertex.", pieces=2, **USAGE)
    messages = [{"role": "user", "content": "hi"}]
    anthropic = {"model": GEMINI, "max_tokens": 50, "messages": messages}
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        plain = await http.post(
            "/v1/messages", headers=world.headers(anthropic=True), json=anthropic
        )
        streamed = await http.post(
            "/v1/messages",
            headers=world.headers(anthropic=True),
            json=anthropic | {"stream": True},
        )
        chat = await http.post(
            "/v1/chat/completions",
            headers=world.headers(),
            json={"model": GEMINI, "messages": messages},
        )
        claude = await http.post(
            f"/v1beta/models/{CLAUDE}:generateContent",
            headers={"x-goog-api-key": world.secret},
            json=gemini_body,
        )
    for answer in (plain, streamed, chat, claude):
        assert answer.status_code == 200, answer.text
    assert plain.json()["content"][0]["text"] == "From Vertex."
    assert "message_stop" in streamed.text
    assert chat.json()["choices"][0]["message"]["content"] == "From Vertex."
    assert claude.json()["candidates"][0]["content"]["parts"][0]["text"] == "From Vertex."
    assert [path for path, _, _ in fake.requests] == [
        f"{GOOGLE}{GEMINI}:generateContent",
        f"{GOOGLE}{GEMINI}:streamGenerateContent?alt=sse",
        f"{GOOGLE}{GEMINI}:generateContent",
        f"{ANTHROPIC}claude-sonnet-4-5@20250929:rawPredict",
    ]
    for _, _, body in fake.requests[:3]:
        assert json.loads(body)["contents"][0]["parts"] == [{"text": "hi"}]
    assert json.loads(fake.requests[3][2])["anthropic_version"] == "vertex-2023-10-16"
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.model_served, r.status) for r in records] == [
        ("anthropic_messages", GEMINI, "ok"),
        ("anthropic_messages", GEMINI, "ok"),
        ("openai_chat", GEMINI, "ok"),
        ("gemini_generate_content", "claude-sonnet-4-5@20250929", "ok"),  # as Vertex names it
    ]
    assert [r.cost_micros for r in records[:3]] == [_vertex_cost(30, 7, 5)] * 3
