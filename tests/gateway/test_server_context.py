"""Input the upstream keeps (an earlier response, a conversation, files, containers, server
tools) is held for: the model's whole context window. `n` multiplies the output held;
`background` is refused. The overspend bound holds against continuation attacks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.gateway import wiring as gateway_wiring
from spectra.providers.context import SERVER_TOOL_TURNS

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World, expected_cost

GPT5_WINDOW = 400_000
SONNET_WINDOW = 200_000
OUTPUT_CAP = 4096  # the workspace's default output_estimate_cap
REFUSED_FOR_MONEY = {"wallet_empty", "request_cost_over_limit", "insufficient_funds"}


async def _continuation_world(world: World, fake: FakeUpstream, amount: str) -> World:
    await world.add_account("openai-a", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.recharge(amount)
    return world


async def test_twenty_concurrent_continuations_cannot_drain_a_small_wallet(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # Each continuation makes the upstream re-bill 150k tokens of stored context ($0.45 at
    # 3/M): before, the hold saw only the tiny body, so 20 at once took $0.05 to about -$9.
    await _continuation_world(world, fake, "0.05")
    fake.default = Reply(input_tokens=150_000, output_tokens=10)
    body = {
        "model": OPENAI_MODEL,
        "previous_response_id": "resp_abc",
        "input": "go on",
        "max_output_tokens": 16,  # a tiny hold each: 20 of them fit in $0.05
    }
    responses = await asyncio.gather(
        *(client.post("/v1/responses", headers=world.headers(), json=body) for _ in range(20))
    )
    await world.settle()
    wallet = await world.wallet_id()
    assert await world.balance(wallet) >= 0
    assert {r.status_code for r in responses} == {402}
    assert {r.json()["error"]["code"] for r in responses} <= REFUSED_FOR_MONEY
    assert fake.requests == []


@pytest.mark.parametrize(
    ("path", "body", "window"),
    [
        (
            "/v1/responses",
            {"model": OPENAI_MODEL, "previous_response_id": "resp_abc", "input": "go on"},
            GPT5_WINDOW,
        ),
        (
            "/v1/responses",
            {"model": OPENAI_MODEL, "conversation": "conv_1", "input": "go on"},
            GPT5_WINDOW,
        ),
        (
            "/v1/responses",
            {"model": OPENAI_MODEL, "prompt": {"id": "pmpt_1"}, "input": "x"},
            GPT5_WINDOW,
        ),
        (
            "/v1/responses",
            {
                "model": OPENAI_MODEL,
                "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}],
            },
            GPT5_WINDOW,
        ),
        (
            "/v1/messages",
            {"model": ANTHROPIC_MODEL, "max_tokens": 10, "container": "cntr_1", "messages": []},
            SONNET_WINDOW,
        ),
        (
            "/v1/messages",
            {
                "model": ANTHROPIC_MODEL,
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            SONNET_WINDOW,
        ),
    ],
    ids=["previous_response", "conversation", "stored_prompt", "file", "container", "web_search"],
)
async def test_a_request_that_references_kept_input_holds_the_context_window(
    client: httpx.AsyncClient,
    world: World,
    fake: FakeUpstream,
    path: str,
    body: dict[str, Any],
    window: int,
) -> None:
    # The referenced context (here 300k or 180k tokens the upstream re-bills as input) fits in
    # the model's window, so the hold covers whatever it turns out to be.
    await _continuation_world(world, fake, "100")
    gate = asyncio.Event()
    fake.script(Reply(text="abcdef", pieces=3, gate=gate, input_tokens=window * 9 // 10))
    wallet = await world.wallet_id()
    gw = gateway_wiring.current()
    assert gw is not None
    anthropic = path == "/v1/messages"
    request = asyncio.ensure_future(
        client.post(path, headers=world.headers(anthropic=anthropic), json={**body, "stream": True})
    )
    while not fake.requests:
        await asyncio.sleep(0.01)
    held = 100_000_000 - await gw.view.available(wallet)
    output = min(body.get("max_tokens") or OUTPUT_CAP, OUTPUT_CAP)
    # A search tool also holds its per-call fees: 10 turns of searches at $10 per 1,000.
    searches = SERVER_TOOL_TURNS * 10_000 if "web_search" in str(body.get("tools")) else 0
    assert held == expected_cost(window, output) + searches
    assert held >= expected_cost(window * 9 // 10, 0)
    gate.set()
    resp = await request
    assert resp.status_code == 200
    await world.settle()
    (record,) = await world.records()
    assert record.input_tokens == window * 9 // 10


async def test_chat_n_multiplies_the_output_held(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # A member with money for one completion's output cannot ask for eight at once.
    await _continuation_world(world, fake, "0.2")  # one completion holds ~$0.06, eight ~$0.49
    body = {
        "model": OPENAI_MODEL,
        "n": 8,
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "hi"}],
    }
    resp = await client.post("/v1/chat/completions", headers=world.headers(), json=body)
    assert resp.status_code == 402, resp.text
    assert resp.json()["error"]["code"] in REFUSED_FOR_MONEY
    resp = await client.post("/v1/chat/completions", headers=world.headers(), json={**body, "n": 1})
    assert resp.status_code == 200, resp.text


async def test_background_responses_are_refused_with_a_reason(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await _continuation_world(world, fake, "10")
    resp = await client.post(
        "/v1/responses",
        headers=world.headers(),
        json={"model": OPENAI_MODEL, "background": True, "input": "a long job"},
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "unbounded_cost"
    assert "background" in error["message"]
    assert fake.requests == []
    await world.settle()
    (record,) = await world.records()
    assert (record.status, record.refusal_reason) == ("refused", "unbounded_cost")


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/v1/responses", {"input": "hi"}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ],
)
@pytest.mark.parametrize("tier", ["priority", "scale"])
async def test_a_premium_service_tier_is_refused_not_billed_at_standard_price(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream, path: str, extra: Any, tier: str
) -> None:
    # The upstream bills priority (and scale) processing above the standard price Spectra's
    # catalog knows: charged at standard, a member would be spending the pool's money.
    await _continuation_world(world, fake, "10")
    body = {"model": OPENAI_MODEL, "service_tier": tier, **extra}
    resp = await client.post(path, headers=world.headers(), json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "unbounded_cost"
    assert "service_tier" in resp.json()["error"]["message"]
    assert fake.requests == []
    for allowed in ("auto", "default", "flex"):
        ok = await client.post(
            path, headers=world.headers(), json={**body, "service_tier": allowed}
        )
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "audio",
    [
        {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}},
        {"modalities": ["audio"]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}
                    ],
                }
            ]
        },
    ],
)
async def test_chat_audio_is_refused_not_billed_at_the_text_price(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream, audio: dict[str, Any]
) -> None:
    # Audio tokens cost several times text tokens and the catalog prices only text.
    await _continuation_world(world, fake, "10")
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}], **audio}
    resp = await client.post("/v1/chat/completions", headers=world.headers(), json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "unbounded_cost"
    assert "audio" in resp.json()["error"]["message"]
    assert fake.requests == []
