"""Accounts of the cloud kinds behind the gateway: Azure OpenAI deployments serve chat and
Responses callers (and Anthropic callers, translated to chat), with the account's api-key and
api-version, and the caller's key never leaving the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from tests.fakes.clouds import FakeAzure
from tests.fakes.upstream import Reply

from .world import UPSTREAM_KEY, World, serve


@pytest_asyncio.fixture
async def azure_pool(world: World) -> AsyncIterator[tuple[World, FakeAzure]]:
    async with FakeAzure(api_key=UPSTREAM_KEY, deployments={"gpt5-prod": "gpt-5"}) as fake:
        await world.add_account(
            "azure-east",
            provider="azure_openai",
            base_url=fake.url,
            models=["gpt5-prod"],
            aliases={"gpt-5": "gpt5-prod", "claude-sonnet-4-5": "gpt5-prod"},
            api_version="2024-10-21",
        )
        await world.recharge("10")
        yield world, fake


async def test_azure_deployments_serve_each_protocol(
    app: object, azure_pool: tuple[World, FakeAzure]
) -> None:
    world, fake = azure_pool
    fake.default = Reply(text="From Azure.", input_tokens=20, output_tokens=5)
    chat = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        answered = await http.post("/v1/chat/completions", headers=world.headers(), json=chat)
        responses = await http.post(
            "/v1/responses", headers=world.headers(), json={"model": "gpt-5", "input": "hi"}
        )
        claude = await http.post(
            "/v1/messages",
            headers=world.headers(anthropic=True),
            json={"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": chat["messages"]},
        )
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "From Azure."
    assert responses.status_code == 200, responses.text
    assert claude.status_code == 200, claude.text
    assert claude.json()["content"][0]["text"] == "From Azure."
    assert [path for path, _, _ in fake.requests] == [
        "/openai/deployments/gpt5-prod/chat/completions?api-version=2024-10-21",
        "/openai/responses?api-version=2024-10-21",
        "/openai/deployments/gpt5-prod/chat/completions?api-version=2024-10-21",
    ]
    for _, headers, _ in fake.requests:
        assert headers["api-key"] == UPSTREAM_KEY
        assert "Authorization" not in headers
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.input_tokens) for r in records] == [
        ("openai_chat", "ok", 20),
        ("openai_responses", "ok", 20),
        ("anthropic_messages", "ok", 20),
    ]
