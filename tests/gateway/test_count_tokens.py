"""POST /v1/messages/count_tokens for a model only OpenAI-protocol accounts serve: an estimate
(ceil(chars / 4) of the body translated to the protocol the preferred account is sent), said in
a header, not a failure;
nothing is sent upstream and nothing is recorded."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream

from spectra.providers.translate import translate_request
from spectra.providers.types import WireProtocol

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


def measured(body: dict[str, object], upstream: WireProtocol) -> int:
    """The documented method: ceil(chars / 4) of the body as that account would be sent it,
    without the model and the output cap."""
    out = translate_request(
        {"max_tokens": 1, **body}, client=WireProtocol.ANTHROPIC_MESSAGES, upstream=upstream
    ).body
    kept = {k: v for k, v in out.items() if k not in ("model", "max_output_tokens")}
    kept.pop("max_completion_tokens", None)
    return math.ceil(len(json.dumps(kept, ensure_ascii=False, separators=(",", ":"))) / 4)


@pytest.mark.parametrize(
    ("provider", "upstream"),
    [
        ("openai", WireProtocol.OPENAI_RESPONSES),
        ("openai_compatible", WireProtocol.OPENAI_CHAT),
        ("azure_openai", WireProtocol.OPENAI_CHAT),
    ],
)
async def test_the_estimate_is_measured_in_the_protocol_the_account_is_sent(
    client: httpx.AsyncClient,
    world: World,
    fake: FakeUpstream,
    provider: str,
    upstream: WireProtocol,
) -> None:
    await world.add_account("only", provider=provider, base_url=fake.url, models=[ANTHROPIC_MODEL])
    await world.recharge("1")
    body = counting("hi " * 50, tools=True)
    resp = await client.post(
        "/v1/messages/count_tokens", headers=world.headers(anthropic=True), json=body
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-spectra-token-count"] == (
        f"estimate; chars/4 of the body translated to {upstream.value}"
    )
    assert resp.json()["input_tokens"] == measured(body, upstream)
    assert fake.requests == []


async def test_the_preferred_accounts_protocol_is_the_one_measured(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # Two accounts serve the model: the scheduler's first tier (priority 0) is the Chat one.
    await world.add_account(
        "responses", provider="openai", base_url=fake.url, models=[ANTHROPIC_MODEL], priority=1
    )
    await world.add_account(
        "chat", provider="openai_compatible", base_url=fake.url, models=[ANTHROPIC_MODEL]
    )
    await world.recharge("1")
    body = counting("hi", tools=True)
    resp = await client.post(
        "/v1/messages/count_tokens", headers=world.headers(anthropic=True), json=body
    )
    assert resp.headers["x-spectra-token-count"].endswith("openai_chat")
    chat, responses = (
        measured(body, p) for p in (WireProtocol.OPENAI_CHAT, WireProtocol.OPENAI_RESPONSES)
    )
    assert chat != responses  # the two protocols spell the same request differently
    assert resp.json()["input_tokens"] == chat
