"""Streaming on a real port: no buffering, client disconnect, upstream cut, the billing policy,
compressed request bodies."""

from __future__ import annotations

import asyncio
import gzip
import json

import httpx
import zstandard
from tests.fakes.upstream import FakeUpstream, Reply

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World, expected_cost, serve

BODY = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


async def test_no_buffering_second_chunk_waits_for_the_first_to_arrive(
    app: object, pooled: World, fake: FakeUpstream
) -> None:
    gate = asyncio.Event()
    fake.script(Reply(text="abcdef", pieces=3, gate=gate))
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=base) as http,
        http.stream(
            "POST", "/v1/messages", headers=pooled.headers(anthropic=True), json=BODY
        ) as resp,
    ):
        assert resp.status_code == 200
        chunks = resp.aiter_bytes()
        first = await asyncio.wait_for(anext(chunks), 5)
        assert b"message_start" in first
        assert not gate.is_set()
        gate.set()
        rest = b"".join([c async for c in chunks])
    assert b"message_stop" in rest


async def test_client_disconnect_cancels_upstream_and_bills_what_was_relayed(
    app: object, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(
        Reply(text="x" * 400, pieces=40, chunk_delay=0.05, input_tokens=50, output_tokens=99)
    )
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream(
            "POST", "/v1/messages", headers=pooled.headers(anthropic=True), json=BODY
        ) as resp:
            seen = b""
            async for chunk in resp.aiter_bytes():
                seen += chunk
                if seen.count(b"text_delta") >= 3:
                    break
        await asyncio.sleep(0.3)
        await pooled.settle()
    (record,) = await pooled.records()
    assert record.status == "partial"
    assert record.error_type == "client_disconnected"
    assert record.input_tokens == 50  # reported in message_start
    assert 3 <= record.output_tokens < 99  # estimated from the relayed deltas (chars / 4)
    assert record.cost_micros == expected_cost(record.input_tokens, record.output_tokens)
    wallet = await pooled.wallet_id()
    assert await pooled.balance(wallet) == 10_000_000 - record.cost_micros


async def test_client_disconnect_closes_a_silent_upstream_at_once(
    app: object, pooled: World, fake: FakeUpstream
) -> None:
    # The upstream sends its first event and then nothing until the gate opens: the relay must
    # not wait for another upstream chunk to notice that the caller went away.
    gate = asyncio.Event()
    fake.script(Reply(text="abcdef", pieces=3, gate=gate, input_tokens=50, output_tokens=9))
    try:
        async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
            async with http.stream(
                "POST", "/v1/messages", headers=pooled.headers(anthropic=True), json=BODY
            ) as resp:
                await asyncio.wait_for(anext(resp.aiter_bytes()), 5)
            for _ in range(50):
                await asyncio.sleep(0.1)
                await pooled.settle()
                if await pooled.records():
                    break
            (record,) = await pooled.records()
            assert not gate.is_set()
    finally:
        gate.set()
    assert record.status == "partial"
    assert record.error_type == "client_disconnected"
    assert record.cost_micros == 0  # nothing was generated before the caller left


async def test_stream_cut_by_upstream_is_billed_as_partial(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Reply(text="abcdefgh", pieces=4, cut_after=4, input_tokens=20, output_tokens=50))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    assert resp.status_code == 200
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.status == "partial"
    assert record.error_type in ("stream_broken", "connect_error")
    assert record.output_tokens >= 1
    assert record.cost_micros == expected_cost(record.input_tokens, record.output_tokens)


async def test_failure_before_anything_was_generated_is_not_billed(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Reply(text="abc", cut_after=1, input_tokens=20))
    await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.status == "partial"
    assert record.cost_micros == 0
    assert await pooled.balance(await pooled.wallet_id()) == 10_000_000


async def test_gzip_and_zstd_bodies_are_decompressed(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    raw = json.dumps(
        {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    for encoding, body in (
        ("gzip", gzip.compress(raw)),
        ("zstd", zstandard.ZstdCompressor().compress(raw)),
    ):
        resp = await client.post(
            "/v1/chat/completions",
            headers={
                **pooled.headers(),
                "content-encoding": encoding,
                "content-type": "application/json",
            },
            content=body,
        )
        assert resp.status_code == 200, resp.text
        sent = fake.requests[-1]
        assert sent.body == raw
        assert sent.header("content-encoding") is None
