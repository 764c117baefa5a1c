"""Translated traffic: a model served only by accounts of another protocol is translated there
and back (providers/translate), with the official SDKs on a real local port; the charge is the
upstream's usage at the model's price; a 429 still fails over; refusals keep their shapes."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest_asyncio
from tests.fakes.upstream import Fail, FakeUpstream, Reply, ToolCall

from .world import World, expected_cost, serve

CLAUDE = "claude-opus-4-8"  # the anthropic SDK warns about deprecated names
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "Bash",
            "description": "Run a shell command",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        },
    }
]
CLAUDE_TOOLS: list[Any] = [
    {
        "name": "Bash",
        "description": "Run a shell command",
        "input_schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    }
]


async def _chat(
    client: httpx.AsyncClient, world: World, model: str = CLAUDE, **extra: Any
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return await client.post("/v1/chat/completions", headers=world.headers(), json=body)


@pytest_asyncio.fixture
async def claude_only(world: World, fake: FakeUpstream) -> World:
    """Two Anthropic accounts serving Claude, no OpenAI account."""
    for name in ("claude-a", "claude-b"):
        await world.add_account(name, provider="anthropic", base_url=fake.url, models=["claude-*"])
    await world.recharge("10")
    return world


@pytest_asyncio.fixture
async def chat_only(world: World, fake: FakeUpstream) -> World:
    """One OpenAI-compatible (Chat Completions) account that lists the Claude model."""
    await world.add_account(
        "compat", provider="openai_compatible", base_url=fake.url, models=["claude-*"]
    )
    await world.recharge("10")
    return world


async def test_openai_sdk_chat_on_an_anthropic_only_pool(
    app: object, claude_only: World, fake: FakeUpstream
) -> None:
    usage: dict[str, Any] = {
        "input_tokens": 30,
        "output_tokens": 7,
        "cache_read_tokens": 5,
        "cache_write_tokens": 2,
    }
    fake.script(
        Reply(text="", tool_call=ToolCall(name="Bash", arguments={"command": "ls"}), **usage),
        Reply(text="translated reply", pieces=3, **usage),
        Reply(text="", tool_call=ToolCall(name="Bash", arguments={"command": "pwd"}), **usage),
    )
    async with serve(app) as base:
        client = openai.AsyncOpenAI(
            base_url=f"{base}/v1", api_key=claude_only.secret, max_retries=0
        )
        try:
            chat = await client.chat.completions.create(
                model=CLAUDE, messages=[{"role": "user", "content": "list"}], tools=TOOLS
            )
            (call,) = chat.choices[0].message.tool_calls or []
            assert call.function.name == "Bash"  # type: ignore[union-attr]
            assert json.loads(call.function.arguments) == {"command": "ls"}  # type: ignore[union-attr]
            assert chat.choices[0].finish_reason == "tool_calls"
            stream = await client.chat.completions.create(
                model=CLAUDE,
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [c async for c in stream]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == "translated reply"
            assert chunks[-1].usage is not None
            stream = await client.chat.completions.create(
                model=CLAUDE,
                messages=[{"role": "user", "content": "where"}],
                tools=TOOLS,
                stream=True,
            )
            arguments = "".join(
                [
                    tool.function.arguments or ""
                    async for c in stream
                    if c.choices
                    for tool in c.choices[0].delta.tool_calls or []
                    if tool.function is not None
                ]
            )
            assert json.loads(arguments) == {"command": "pwd"}
        finally:
            await client.close()
    assert [r.path for r in fake.requests] == ["/v1/messages"] * 3
    sent = fake.requests[0]
    assert sent.header("x-api-key") is not None
    assert sent.header("authorization") is None
    assert sent.json()["tools"][0]["name"] == "Bash"
    await claude_only.settle()
    records = await claude_only.records()
    assert len(records) == 3
    charge = expected_cost(30, 7, 5, 2)
    for record in records:
        assert (record.protocol, record.status, record.cost_micros) == ("openai_chat", "ok", charge)
        assert record.account_id in claude_only.accounts.values()
    wallet = await claude_only.balance(await claude_only.wallet_id())
    assert wallet == 10_000_000 - 3 * charge


async def test_anthropic_sdk_on_a_chat_only_pool(
    app: object, chat_only: World, fake: FakeUpstream
) -> None:
    usage: dict[str, Any] = {"input_tokens": 40, "output_tokens": 9, "cache_read_tokens": 8}
    fake.script(
        Reply(text="", tool_call=ToolCall(name="Bash", arguments={"command": "ls"}), **usage),
        Reply(text="claude via chat", pieces=4, **usage),
    )
    async with serve(app) as base:
        client = anthropic.AsyncAnthropic(base_url=base, auth_token=chat_only.secret, max_retries=0)
        try:
            message = await client.messages.create(
                model=CLAUDE,
                max_tokens=64,
                tools=CLAUDE_TOOLS,
                messages=[{"role": "user", "content": "list"}],
            )
            assert message.stop_reason == "tool_use"
            (block,) = [b for b in message.content if b.type == "tool_use"]
            assert (block.name, block.input) == ("Bash", {"command": "ls"})
            async with client.messages.stream(
                model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                final = await stream.get_final_message()
            assert final.content[0].text == "claude via chat"  # type: ignore[union-attr]
            assert final.usage.output_tokens == 9
        finally:
            await client.close()
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"] * 2
    first = fake.requests[0].json()
    assert first["tools"][0]["function"]["name"] == "Bash"
    assert fake.requests[1].json()["stream_options"] == {"include_usage": True}
    await chat_only.settle()
    records = await chat_only.records()
    assert len(records) == 2
    for record in records:
        assert (record.protocol, record.status) == ("anthropic_messages", "ok")
        assert record.cost_micros == expected_cost(40, 9, 8)


async def test_openai_sdk_responses_on_an_anthropic_only_pool(
    app: object, claude_only: World, fake: FakeUpstream
) -> None:
    fake.script(
        Reply(text="answered", input_tokens=14, output_tokens=3),
        Reply(text="streamed", pieces=2, input_tokens=14, output_tokens=3),
    )
    async with serve(app) as base:
        client = openai.AsyncOpenAI(
            base_url=f"{base}/v1", api_key=claude_only.secret, max_retries=0
        )
        try:
            response = await client.responses.create(model=CLAUDE, input="hi")
            assert response.output_text == "answered"
            events = [
                e
                async for e in await client.responses.create(model=CLAUDE, input="hi", stream=True)
            ]
            assert events[-1].type == "response.completed"
            deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
            assert deltas == "streamed"
        finally:
            await client.close()
    assert [r.path for r in fake.requests] == ["/v1/messages"] * 2
    await claude_only.settle()
    records = await claude_only.records()
    assert [(r.protocol, r.cost_micros) for r in records] == [
        ("openai_responses", expected_cost(14, 3))
    ] * 2


async def test_a_translated_stream_cut_by_the_upstream_ends_in_an_error_and_settles_partial(
    client: httpx.AsyncClient, claude_only: World, fake: FakeUpstream
) -> None:
    fake.script(Reply(text="abcdef", pieces=3, input_tokens=10, output_tokens=3, cut_after=4))
    resp = await _chat(client, claude_only, stream=True)
    assert resp.status_code == 200
    events = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: {")]
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")
    )
    assert text
    assert "abcdef".startswith(text)
    assert "error" in events[-1]
    await claude_only.settle()
    (record,) = await claude_only.records()
    assert record.status == "partial"


async def test_a_429_from_the_translated_upstream_fails_over(
    client: httpx.AsyncClient, claude_only: World, fake: FakeUpstream
) -> None:
    fake.script(Fail("rate_limited"), Reply(text="second try", input_tokens=10, output_tokens=3))
    resp = await _chat(client, claude_only)
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"] == "second try"
    await claude_only.settle()
    (record,) = await claude_only.records()
    assert record.attempts == 2
    assert record.cost_micros == expected_cost(10, 3)


async def test_an_upstream_error_reaches_the_caller_in_its_own_shape(
    client: httpx.AsyncClient, claude_only: World, fake: FakeUpstream
) -> None:
    fake.script(Fail("invalid_request"))
    resp = await _chat(client, claude_only)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert resp.headers["x-spectra-upstream-error"] == "invalid_request"
    assert len(fake.requests) == 1  # not retried elsewhere
    await claude_only.settle()
    (record,) = await claude_only.records()
    assert (record.status, record.cost_micros) == ("error", 0)


async def test_what_the_upstream_protocol_cannot_express_is_a_400_in_the_callers_shape(
    client: httpx.AsyncClient, claude_only: World, fake: FakeUpstream
) -> None:
    resp = await _chat(client, claude_only, n=2)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "translation_unsupported"
    assert fake.requests == []
    await claude_only.settle()
    assert await claude_only.balance(await claude_only.wallet_id()) == 10_000_000


async def test_same_protocol_accounts_come_first(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await world.add_account(
        "compat", provider="openai_compatible", base_url=fake.url, models=["claude-*"]
    )
    await world.add_account(
        "claude", provider="anthropic", base_url=fake.url, models=["claude-*"], priority=9
    )
    await world.recharge("1")
    for _ in range(3):
        resp = await client.post(
            "/v1/messages",
            headers=world.headers(anthropic=True),
            json={
                "model": CLAUDE,
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        assert resp.status_code == 200
    assert [r.path for r in fake.requests] == ["/v1/messages"] * 3


async def test_a_model_no_account_serves_in_any_protocol_is_not_found(
    client: httpx.AsyncClient, claude_only: World, fake: FakeUpstream
) -> None:
    resp = await _chat(client, claude_only, model="gpt-5")
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "model_not_served"
    assert "claude-*" in error["message"]
    assert fake.requests == []
    await claude_only.settle()
    (record,) = await claude_only.records()
    assert record.refusal_reason == "model_not_served"
