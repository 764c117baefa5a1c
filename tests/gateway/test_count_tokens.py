"""POST /v1/messages/count_tokens for a model only OpenAI-protocol accounts serve: an estimate
(ceil(chars / 4) of the body translated to Chat Completions), said in a header, not a failure;
nothing is sent upstream and nothing is recorded."""

from __future__ import annotations

import httpx
from tests.fakes.upstream import FakeUpstream

from .world import ANTHROPIC_MODEL, World


def counting(text: str, *, tools: bool = False) -> dict[str, object]:
    body: dict[str, object] = {
        "model": ANTHROPIC_MODEL,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": text}],
    }
    if tools:
        body["tools"] = [
            {
                "name": "read_file",
                "description": "Read a file from the workspace and return its text.",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            }
        ]
    return body


async def test_a_model_served_only_over_openai_gets_an_estimate(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await world.add_account(
        "compat", provider="openai_compatible", base_url=fake.url, models=[ANTHROPIC_MODEL]
    )
    await world.recharge("1")
    headers = world.headers(anthropic=True)
    short = await client.post("/v1/messages/count_tokens", headers=headers, json=counting("hi"))
    assert short.status_code == 200, short.text
    assert short.headers["x-spectra-token-count"].startswith("estimate")
    small = short.json()["input_tokens"]
    assert small > 0
    text = "the quick brown fox " * 100  # 2,000 characters: about 500 more tokens
    long = await client.post("/v1/messages/count_tokens", headers=headers, json=counting(text))
    assert 495 <= long.json()["input_tokens"] - small <= 505
    with_tools = await client.post(
        "/v1/messages/count_tokens", headers=headers, json=counting("hi", tools=True)
    )
    assert with_tools.json()["input_tokens"] > small + 20
    assert fake.requests == []
    await world.settle()
    assert await world.records() == []


async def test_a_model_no_account_serves_is_still_refused(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await world.add_account(
        "compat", provider="openai_compatible", base_url=fake.url, models=["gpt-*"]
    )
    await world.recharge("1")
    resp = await client.post(
        "/v1/messages/count_tokens", headers=world.headers(anthropic=True), json=counting("hi")
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["reason_code"] == "model_not_served"


async def test_an_anthropic_account_still_counts_upstream(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    resp = await client.post(
        "/v1/messages/count_tokens", headers=pooled.headers(anthropic=True), json=counting("hi")
    )
    assert resp.status_code == 200
    assert "x-spectra-token-count" not in resp.headers
    assert [r.path for r in fake.requests] == ["/v1/messages/count_tokens"]


async def test_an_account_closed_to_translated_traffic_gives_no_estimate(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # The admin's per-account switch holds for counting too: an estimate stands for a request
    # that account would take, and it takes no translated request.
    await world.add_account(
        "compat",
        provider="openai_compatible",
        base_url=fake.url,
        models=[ANTHROPIC_MODEL],
        translate=False,
    )
    await world.recharge("1")
    resp = await client.post(
        "/v1/messages/count_tokens", headers=world.headers(anthropic=True), json=counting("hi")
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["reason_code"] == "model_not_served"
    assert fake.requests == []
