"""Cache writes by lifetime and server-side web searches, charged exactly through the gateway.

Anthropic bills 1-hour cache writes at 2x input and 5-minute ones at 1.25x; web searches at
$10 per 1,000. The world prices claude-sonnet-4-5 at $3 input, $3.75 5-minute writes; the 1-hour
price is filled in from genai-prices ($6 = 2x input).
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.gateway.admission import estimate
from spectra.kit.money import round_micros
from spectra.providers.bodies import inspect_request
from spectra.providers.context import SERVER_TOOL_TURNS
from spectra.providers.types import WireProtocol
from spectra.usage.pricing import Price

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, PRICES, World, expected_cost

INPUT = Decimal(PRICES["input"])
WRITE_5M = Decimal(PRICES["cache_write"])
WRITE_1H = 2 * INPUT
OUTPUT = Decimal(PRICES["output"])


def cost(
    *, input_tokens: int, output_tokens: int, five_m: int, one_h: int, searches: int = 0
) -> int:
    units = (
        input_tokens * INPUT + output_tokens * OUTPUT + five_m * WRITE_5M + one_h * WRITE_1H
    ) / 1_000_000 + searches * Decimal(10) / 1000
    return int(round_micros(units * 1_000_000))


async def _ask(client: httpx.AsyncClient, world: World, *, stream: bool) -> httpx.Response:
    resp = await client.post(
        "/v1/messages",
        headers=world.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 100,
            "stream": stream,
            "system": [
                {
                    "type": "text",
                    "text": "a long, stable system prompt",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                }
            ],
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert resp.status_code == 200, resp.text
    return resp


@pytest.mark.parametrize("stream", [False, True])
async def test_one_hour_writes_cost_twice_input(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, stream: bool
) -> None:
    fake.script(
        Reply(
            input_tokens=10,
            output_tokens=20,
            cache_write_tokens=3000,
            cache_creation={"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        )
    )
    wallet = await pooled.wallet_id()
    before = await pooled.balance(wallet)
    resp = await _ask(client, pooled, stream=stream)
    sent = json.loads(fake.requests[-1].body)
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    if stream:
        assert "ephemeral_1h_input_tokens" in resp.text
    await pooled.settle()
    expected = cost(input_tokens=10, output_tokens=20, five_m=1000, one_h=2000)
    (record,) = await pooled.records()
    assert (record.cache_write_tokens, record.cache_write_1h_tokens) == (3000, 2000)
    assert record.cost_micros == expected
    assert await pooled.balance(wallet) == before - expected
    # The 1-hour part is 2x input exactly: 2000 tokens at $6 per million = 12,000 micros.
    five_minutes_only = cost(input_tokens=10, output_tokens=20, five_m=3000, one_h=0)
    assert expected - five_minutes_only == 2000 * 6 - 2000 * Decimal("3.75")


@pytest.mark.parametrize(
    ("total", "breakdown", "billed_total", "billed_1h"),
    [
        # No breakdown (an upstream that cannot report lifetimes): all writes are 5-minute ones.
        (1000, None, 1000, 0),
        # The total exceeds the breakdown: the rest is billed at the 5-minute rate, never less.
        (1000, (200, 300), 1000, 300),
        # The breakdown exceeds the total: the breakdown is billed.
        (100, (200, 300), 500, 300),
        # A breakdown without a total.
        (0, (0, 400), 400, 400),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_breakdown_and_total_disagreeing_never_undercharge(
    client: httpx.AsyncClient,
    pooled: World,
    fake: FakeUpstream,
    stream: bool,
    total: int,
    breakdown: tuple[int, int] | None,
    billed_total: int,
    billed_1h: int,
) -> None:
    creation = (
        None
        if breakdown is None
        else {"ephemeral_5m_input_tokens": breakdown[0], "ephemeral_1h_input_tokens": breakdown[1]}
    )
    fake.script(
        Reply(input_tokens=5, output_tokens=7, cache_write_tokens=total, cache_creation=creation)
    )
    await _ask(client, pooled, stream=stream)
    await pooled.settle()
    (record,) = await pooled.records()
    assert (record.cache_write_tokens, record.cache_write_1h_tokens) == (billed_total, billed_1h)
    assert record.cost_micros == cost(
        input_tokens=5, output_tokens=7, five_m=billed_total - billed_1h, one_h=billed_1h
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_web_searches_are_charged_per_call(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, stream: bool
) -> None:
    fake.script(Reply(input_tokens=10, output_tokens=20, web_search_requests=3))
    wallet = await pooled.wallet_id()
    before = await pooled.balance(wallet)
    await _ask(client, pooled, stream=stream)
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.web_search_calls == 3
    expected = cost(input_tokens=10, output_tokens=20, five_m=0, one_h=0, searches=3)
    assert expected == cost(input_tokens=10, output_tokens=20, five_m=0, one_h=0) + 30_000
    assert record.cost_micros == expected
    assert await pooled.balance(wallet) == before - expected


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_web_search_calls_are_charged_per_call(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, stream: bool
) -> None:
    fake.script(Reply(input_tokens=40, output_tokens=9, web_search_requests=2))
    resp = await client.post(
        "/v1/responses",
        headers=pooled.headers(),
        json={
            "model": OPENAI_MODEL,
            "input": "what is new?",
            "tools": [{"type": "web_search"}],
            "stream": stream,
        },
    )
    assert resp.status_code == 200, resp.text
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.web_search_calls == 2
    # gpt-5 has no web search price in genai-prices: the default, $10 per 1,000 calls.
    assert record.cost_micros == expected_cost(40, 9) + 2 * 10_000


def _body(**extra: object) -> bytes:
    body = {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 100,
        "system": [{"type": "text", "text": "x" * 4000, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }
    return json.dumps(body).encode()


def test_the_hold_covers_one_hour_writes_and_web_searches() -> None:
    price = Price(
        model=ANTHROPIC_MODEL,
        input=INPUT,
        output=OUTPUT,
        cache_read=Decimal("0.3"),
        cache_write=WRITE_5M,
        version_id="test",
        cache_write_1h=WRITE_1H,
    )
    plain = inspect_request(WireProtocol.ANTHROPIC_MESSAGES, _body())
    base, _ = estimate(plain, price, 100)
    one_hour = json.loads(_body())
    one_hour["system"][0]["cache_control"]["ttl"] = "1h"
    asks = inspect_request(WireProtocol.ANTHROPIC_MESSAGES, json.dumps(one_hour).encode())
    assert asks.cache_write_1h
    assert not plain.cache_write_1h
    held, _ = estimate(asks, price, 100)
    inputs = plain.input_tokens_estimate
    # The input is held at 2x input, not 1x: the hold grows by exactly one more input price.
    assert held - base == int(round_micros(Decimal(asks.input_tokens_estimate) * WRITE_1H)) - int(
        round_micros(Decimal(inputs) * INPUT)
    )
    searching = inspect_request(
        WireProtocol.ANTHROPIC_MESSAGES,
        _body(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
    )
    with_searches, _ = estimate(searching, price, 100)
    # The window is held for server tools too; the per-call fees come on top of it.
    no_fees = replace(price, web_search=Decimal(0))
    assert with_searches - estimate(searching, no_fees, 100)[0] == SERVER_TOOL_TURNS * 10_000


async def test_region_pinned_inference_is_refused_not_undercharged(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    body = {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "inference_geo": "us",
    }
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body)
    assert resp.status_code == 400, resp.text
    assert "inference_geo" in resp.json()["error"]["message"]
    assert fake.requests == []
    fake.script(Reply(input_tokens=5, output_tokens=5))
    body["inference_geo"] = "global"
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body)
    assert resp.status_code == 200, resp.text
