"""One owner of cleanup: on every exit path of a generation request the pool slot, the hold
and the rate-limit lease are each given back exactly once, through the real scheduler,
balance view and limiter (counted by wrapping their own methods, which still run)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from tests.fakes.upstream import Fail, FakeUpstream, Reply

from spectra.gateway import relay
from spectra.gateway import wiring as gateway_wiring
from spectra.gateway.wiring import Gateway

from .world import ANTHROPIC_MODEL, World, serve

BODY = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


@dataclass
class Releases:
    """Calls per object: pool slots given back, holds settled or released, leases finished."""

    selections: Counter[int] = field(default_factory=Counter)
    holds: Counter[uuid.UUID] = field(default_factory=Counter)
    leases: Counter[int] = field(default_factory=Counter)
    selected: list[Any] = field(default_factory=list)
    held: list[uuid.UUID] = field(default_factory=list)


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch, app: object) -> Releases:
    gw = gateway_wiring.current()
    assert isinstance(gw, Gateway)
    seen = Releases()
    scheduler, view, limiter = gw.scheduler, gw.view, gw.limiter
    select, release = scheduler.select, scheduler.release
    reserve, settle, unhold = view.reserve, view.settle, view.release
    finish = limiter.finish

    def counting_select(*args: Any, **kwargs: Any) -> Any:
        selection = select(*args, **kwargs)
        seen.selected.append(selection)
        return selection

    def counting_release(selection: Any) -> None:
        seen.selections[id(selection)] += 1
        release(selection)

    async def counting_reserve(*args: Any, **kwargs: Any) -> Any:
        hold = await reserve(*args, **kwargs)
        seen.held.append(hold.id)
        return hold

    async def counting_settle(hold: Any, *args: Any, **kwargs: Any) -> Any:
        seen.holds[hold.id] += 1
        return await settle(hold, *args, **kwargs)

    async def counting_unhold(hold: Any) -> bool:
        seen.holds[hold.id] += 1
        return await unhold(hold)

    def counting_finish(lease: Any, actual: int | None) -> None:
        seen.leases[id(lease)] += 1
        finish(lease, actual)

    monkeypatch.setattr(scheduler, "select", counting_select)
    monkeypatch.setattr(scheduler, "release", counting_release)
    monkeypatch.setattr(view, "reserve", counting_reserve)
    monkeypatch.setattr(view, "settle", counting_settle)
    monkeypatch.setattr(view, "release", counting_unhold)
    monkeypatch.setattr(limiter, "finish", counting_finish)
    return seen


def assert_each_released_once(seen: Releases, *, selections: int, holds: int) -> None:
    assert len(seen.selected) == selections
    assert [seen.selections[id(s)] for s in seen.selected] == [1] * selections
    assert all(s.released for s in seen.selected)
    assert len(seen.held) == holds
    assert [seen.holds[h] for h in seen.held] == [1] * holds
    assert len(seen.leases) == holds  # a lease is taken with each hold
    assert set(seen.leases.values()) <= {1}
    gw = gateway_wiring.current()
    assert gw is not None
    assert all(a.figures.in_flight == 0 for a in gw.scheduler.state.accounts.values())


async def available(world: World) -> int:
    gw = gateway_wiring.current()
    assert gw is not None
    wallet = await world.wallet_id()
    return (await gw.view.available_many([wallet]))[wallet]


async def test_success_releases_slot_and_settles_hold_once(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, releases: Releases
) -> None:
    fake.script(Reply(text="hello", input_tokens=10, output_tokens=5))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    assert resp.status_code == 200
    await pooled.settle()
    assert_each_released_once(releases, selections=1, holds=1)
    (record,) = await pooled.records()
    assert record.status == "ok"
    assert await available(pooled) == 10_000_000 - record.cost_micros


async def test_streamed_success_releases_once(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, releases: Releases
) -> None:
    fake.script(Reply(text="hello there", pieces=3, input_tokens=10, output_tokens=5))
    resp = await client.post(
        "/v1/messages", headers=pooled.headers(anthropic=True), json={**BODY, "stream": True}
    )
    assert resp.status_code == 200
    await pooled.settle()
    assert_each_released_once(releases, selections=1, holds=1)


async def test_upstream_error_after_failover_releases_every_attempt_once(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, releases: Releases
) -> None:
    await pooled.add_account(
        "anthropic-b", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    fake.script(Fail("overloaded"), Fail("overloaded"))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    assert resp.status_code == 529
    await pooled.settle()
    # Both attempts' slots back once each; the hold released once, nothing charged.
    assert_each_released_once(releases, selections=2, holds=1)
    (record,) = await pooled.records()
    assert record.status == "error"
    assert record.cost_micros == 0
    assert await available(pooled) == 10_000_000


async def test_pool_refusal_after_admission_releases_the_hold_once(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream, releases: Releases
) -> None:
    await world.recharge("10")  # admitted (priced, funded), but no account serves it
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=BODY)
    assert resp.status_code in (404, 503)
    await world.settle()
    assert_each_released_once(releases, selections=0, holds=1)
    (record,) = await world.records()
    assert record.status == "refused"
    assert await available(world) == 10_000_000


async def test_admission_refusal_takes_and_releases_nothing(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, releases: Releases
) -> None:
    resp = await client.post(
        "/v1/messages",
        headers=pooled.headers(anthropic=True),
        json={**BODY, "model": "claude-unpriced-9"},
    )
    assert resp.status_code >= 400
    await pooled.settle()
    assert_each_released_once(releases, selections=0, holds=0)


async def test_client_disconnect_mid_stream_releases_once(
    app: object, pooled: World, fake: FakeUpstream, releases: Releases
) -> None:
    fake.script(Reply(text="x" * 400, pieces=40, chunk_delay=0.05, output_tokens=99))
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream(
            "POST",
            "/v1/messages",
            headers=pooled.headers(anthropic=True),
            json={**BODY, "stream": True},
        ) as resp:
            seen = b""
            async for chunk in resp.aiter_bytes():
                seen += chunk
                if seen.count(b"text_delta") >= 3:
                    break
        for _ in range(50):
            await asyncio.sleep(0.1)
            await pooled.settle()
            if await pooled.records():
                break
    (record,) = await pooled.records()
    assert record.error_type == "client_disconnected"
    assert_each_released_once(releases, selections=1, holds=1)


async def test_a_bug_mid_request_still_releases_once(
    app: object,
    pooled: World,
    fake: FakeUpstream,
    releases: Releases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(relay, "read_response_body", broken)  # a whole body is read in relay.py
    fake.script(Reply(text="hello", input_tokens=10, output_tokens=5))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as http:
        resp = await http.post("/v1/messages", headers=pooled.headers(anthropic=True), json=BODY)
    assert resp.status_code == 500
    assert_each_released_once(releases, selections=1, holds=1)
    assert await available(pooled) == 10_000_000
