"""The happy paths through the gateway: each protocol, streamed and not, billed exactly."""

from __future__ import annotations

import json

import httpx
from tests.fakes.upstream import FakeUpstream, Reply

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World, expected_cost


async def test_anthropic_stream_is_relayed_and_charged_exactly(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(
        Reply(
            text="hello",
            input_tokens=100,
            output_tokens=20,
            cache_read_tokens=50,
            cache_write_tokens=10,
        )
    )
    wallet = await pooled.wallet_id()
    before = await pooled.balance(wallet)
    resp = await client.post(
        "/v1/messages?beta=true",
        headers={
            **pooled.headers(anthropic=True),
            "anthropic-beta": "claude-code-20250219",
            "x-claude-code-session-id": "s-1",
        },
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 64000,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "adaptive"},
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-spectra-request-id"]
    assert "message_stop" in resp.text
    assert "hello" in resp.text
    sent = fake.requests[-1]
    assert sent.query == "beta=true"
    assert sent.header("anthropic-beta") == "claude-code-20250219"
    assert sent.header("x-api-key") == "sk-fake-upstream-gw"
    assert json.loads(sent.body)["thinking"] == {"type": "adaptive"}
    await pooled.settle()
    cost = expected_cost(100, 20, 50, 10)
    assert await pooled.balance(wallet) == before - cost
    (record,) = await pooled.records()
    assert record.status == "ok"
    assert record.cost_micros == cost
    assert (record.input_tokens, record.output_tokens) == (100, 20)
    assert (record.cache_read_tokens, record.cache_write_tokens) == (50, 10)
    assert record.ledger_transaction_id is not None
    assert record.account_id == pooled.accounts["anthropic-a"]


async def test_openai_chat_without_include_usage_withholds_the_usage_chunk(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Reply(text="hi there", input_tokens=30, output_tokens=7))
    resp = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        json={
            "model": OPENAI_MODEL,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert resp.status_code == 200
    assert '"usage"' not in resp.text.replace('"usage":null', "")
    assert resp.text.rstrip().endswith("data: [DONE]")
    assert json.loads(fake.requests[-1].body)["stream_options"] == {"include_usage": True}
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.cost_micros == expected_cost(30, 7)


async def test_openai_chat_with_include_usage_gets_it(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    resp = await client.post(
        "/v1/chat/completions",
        headers=pooled.headers(),
        json={
            "model": OPENAI_MODEL,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert '"usage":{' in resp.text.replace(" ", "")


async def test_non_streamed_responses_are_charged_from_the_body(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Reply(text="ok", input_tokens=40, output_tokens=9))
    resp = await client.post(
        "/v1/responses", headers=pooled.headers(), json={"model": OPENAI_MODEL, "input": "hi"}
    )
    assert resp.status_code == 200
    assert resp.json()["usage"]["output_tokens"] == 9
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.cost_micros == expected_cost(40, 9)
    assert record.is_streamed is False


async def test_count_tokens_is_forwarded_and_free(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    resp = await client.post(
        "/v1/messages/count_tokens",
        headers=pooled.headers(anthropic=True),
        json={"model": ANTHROPIC_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200
    assert "input_tokens" in resp.json()
    await pooled.settle()
    assert await pooled.records() == []


async def test_models_in_both_shapes(client: httpx.AsyncClient, pooled: World) -> None:
    openai = (await client.get("/v1/models", headers=pooled.headers())).json()
    ids = {m["id"] for m in openai["data"]}
    assert openai["object"] == "list"
    assert ANTHROPIC_MODEL in ids
    assert OPENAI_MODEL in ids
    anthropic = (await client.get("/v1/models", headers=pooled.headers(anthropic=True))).json()
    assert anthropic["data"][0]["type"] == "model"
    assert anthropic["has_more"] is False


async def test_head_root_answers_at_once(client: httpx.AsyncClient) -> None:
    assert (await client.head("/")).status_code == 200


async def test_websocket_upgrade_is_refused_with_426(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        "/v1/responses", headers={"connection": "Upgrade", "upgrade": "websocket"}
    )
    assert resp.status_code == 426
    assert resp.json()["error"]["code"] == "websocket_not_supported"
