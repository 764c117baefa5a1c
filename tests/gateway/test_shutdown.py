"""Graceful shutdown: stop accepting, let open streams finish, flush settlements."""

from __future__ import annotations

import asyncio

import httpx
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.gateway import wiring

from .world import ANTHROPIC_MODEL, World

BODY = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 10,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


async def test_drain_refuses_new_requests_and_lets_open_streams_finish(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    gw = wiring.current()
    assert gw is not None
    gate = asyncio.Event()
    fake.script(Reply(text="abcd", pieces=2, gate=gate))
    open_stream = asyncio.create_task(
        client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    )
    while not fake.requests:
        await asyncio.sleep(0.01)
    drain = asyncio.create_task(gw.drain(5))
    await asyncio.sleep(0.05)
    refused = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    assert refused.status_code == 503
    assert refused.json()["error"]["reason_code"] == "shutting_down"
    assert not drain.done()
    gate.set()
    assert (await open_stream).status_code == 200
    assert await drain is True
    await pooled.settle()
    assert [r.status for r in await pooled.records()] == ["ok"]
    gw.accepting = True


async def test_drain_gives_up_after_the_grace_period(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    gw = wiring.current()
    assert gw is not None
    gate = asyncio.Event()
    fake.script(Reply(text="abcd", pieces=2, gate=gate))
    open_stream = asyncio.create_task(
        client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    )
    while not fake.requests:
        await asyncio.sleep(0.01)
    assert await gw.drain(0.1) is False
    gate.set()
    await open_stream
    gw.accepting = True
