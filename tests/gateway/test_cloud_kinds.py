"""Accounts of the cloud kinds behind the gateway: Azure OpenAI deployments serve chat and
Responses callers (and Anthropic callers, translated to chat), with the account's api-key and
api-version; Vertex serves Claude with a token exchanged from the service-account key; the
caller's key never leaves the gateway."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from tests.fakes.clouds import FakeAzure, FakeBedrock, FakeVertex, service_account_info
from tests.fakes.upstream import Reply

from spectra.db.session import session_scope
from spectra.usage import service as usage_service

from .world import OWNER, UPSTREAM_KEY, World, expected_cost, serve


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


async def test_an_azure_deployment_is_charged_at_azures_price_for_the_model_it_serves(
    app: object, azure_pool: tuple[World, FakeAzure]
) -> None:
    """One pricing path (`fallbacks.served_price`): the served model on the serving provider.
    The deployment name (an alias) has no price, so the admitted model's Azure price applies."""
    world, fake = azure_pool
    async with session_scope(world.runtime.db) as session:
        await usage_service.set_price(
            session, OWNER, model="azure_openai/gpt-5", input="2", output="9"
        )
    await world.runtime.feed.poll_once()
    fake.default = Reply(text="From Azure.", input_tokens=20, output_tokens=5)
    chat = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        answered = await http.post("/v1/chat/completions", headers=world.headers(), json=chat)
    assert answered.status_code == 200, answered.text
    await world.settle()
    records = await world.records()
    assert [(r.model_served, r.cost_micros) for r in records] == [("gpt-5", 85)]  # 40 + 45
    assert records[0].cost_micros != expected_cost(20, 5, 0, 0)


@pytest_asyncio.fixture
async def vertex_pool(world: World) -> AsyncIterator[tuple[World, FakeVertex]]:
    async with FakeVertex(public_pem=b"", project="acme-ai") as fake:
        info, fake.public_pem = service_account_info(f"{fake.url}/token", project="acme-ai")
        await world.add_account(
            "vertex-us",
            provider="vertex",
            base_url=fake.url,
            api_key=json.dumps(info),
            region="us-east5",
            models=["claude-*"],
        )
        await world.recharge("10")
        yield world, fake


async def test_vertex_serves_claude_with_a_google_token(
    app: object, vertex_pool: tuple[World, FakeVertex]
) -> None:
    world, fake = vertex_pool
    fake.default = Reply(text="From Vertex.", pieces=2, input_tokens=20, output_tokens=5)
    messages = [{"role": "user", "content": "hi"}]
    claude = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": messages}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        plain = await http.post("/v1/messages", headers=world.headers(anthropic=True), json=claude)
        streamed = await http.post(
            "/v1/messages", headers=world.headers(anthropic=True), json=claude | {"stream": True}
        )
        chat = await http.post(
            "/v1/chat/completions",
            headers=world.headers(),
            json={"model": "claude-sonnet-4-5", "messages": messages},
        )
    assert plain.status_code == 200, plain.text
    assert plain.json()["content"][0]["text"] == "From Vertex."
    assert streamed.status_code == 200
    assert "message_stop" in streamed.text
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"] == "From Vertex."
    prefix = "/v1/projects/acme-ai/locations/us-east5/publishers/anthropic/models/"
    assert [path for path, _, _ in fake.requests] == [
        prefix + "claude-sonnet-4-5@20250929:rawPredict",
        prefix + "claude-sonnet-4-5@20250929:streamRawPredict",
        prefix + "claude-sonnet-4-5@20250929:rawPredict",
    ]
    assert fake.token_requests == 1  # one exchange, the token reused
    for _, headers, body in fake.requests:
        assert headers["Authorization"] in {f"Bearer {t}" for t in fake.issued}
        assert "x-api-key" not in {k.lower() for k in headers}
        assert "model" not in json.loads(body)
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.output_tokens) for r in records] == [
        ("anthropic_messages", "ok", 5),
        ("anthropic_messages", "ok", 5),
        ("openai_chat", "ok", 5),
    ]


@pytest_asyncio.fixture
async def bedrock_pool(world: World) -> AsyncIterator[tuple[World, FakeBedrock]]:
    async with FakeBedrock(region="us-west-2") as fake:
        await world.add_account(
            "bedrock-us",
            provider="bedrock",
            base_url=fake.url,
            api_key=f"{fake.keys.access_key}:{fake.keys.secret_key}",
            region="us-west-2",
            models=["claude-*"],
        )
        await world.recharge("10")
        yield world, fake


async def test_bedrock_serves_claude_signed_and_streams_through_its_event_stream(
    app: object, bedrock_pool: tuple[World, FakeBedrock]
) -> None:
    world, fake = bedrock_pool
    async with session_scope(world.runtime.db) as session:
        await usage_service.set_price(
            session, OWNER, model="bedrock/claude-sonnet-4-5", input="3.3", output="16.5"
        )
    await world.runtime.feed.poll_once()
    fake.default = Reply(
        text="From Bedrock.", pieces=3, input_tokens=20, output_tokens=5, cache_write_tokens=4
    )
    messages = [{"role": "user", "content": "hi"}]
    claude = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": messages}
    headers = world.headers(anthropic=True) | {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        plain = await http.post("/v1/messages", headers=headers, json=claude)
        streamed = await http.post("/v1/messages", headers=headers, json=claude | {"stream": True})
        chat = await http.post(
            "/v1/chat/completions",
            headers=world.headers(),
            json={"model": "claude-sonnet-4-5", "messages": messages, "stream": True},
        )
    assert plain.status_code == 200, plain.text
    assert plain.json()["content"][0]["text"] == "From Bedrock."
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "event: message_stop" in streamed.text
    assert '"text_delta", "text": "From' in streamed.text
    assert chat.status_code == 200
    assert chat.text.rstrip().endswith("data: [DONE]")
    assert fake.signatures_checked == 3  # every request signed, every signature valid
    model = "anthropic.claude-sonnet-4-5-20250929-v1%3A0"
    assert [path for path, _, _ in fake.requests] == [
        f"/model/{model}/invoke",
        f"/model/{model}/invoke-with-response-stream",
        f"/model/{model}/invoke-with-response-stream",
    ]
    sent = json.loads(fake.requests[0][2])
    assert sent["anthropic_version"] == "bedrock-2023-05-31"
    assert sent["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    await world.settle()
    records = await world.records()
    assert [(r.protocol, r.status, r.cache_write_tokens) for r in records] == [
        ("anthropic_messages", "ok", 4),
        ("anthropic_messages", "ok", 4),
        ("openai_chat", "ok", 4),
    ]
    # Bedrock's own price (per million tokens, so micros per token): 20 in x 3.3 + 5 out x
    # 16.5 + 4 cache writes at Bedrock's genai-prices cache-write price, 4.125.
    assert {r.cost_micros for r in records} == {165}  # 66 + 82.5 + 16.5
    assert {r.cost_micros for r in records} != {expected_cost(20, 5, 0, 4)}
