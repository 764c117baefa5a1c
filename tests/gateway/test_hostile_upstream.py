"""A hostile upstream (tests/fakes/misbehave.py) on every protocol, streamed and not: no usage,
absurd usage, garbage SSE, header floods. The member never gets a 5xx from Spectra, every
charge has its usage record and every record its charge, counts stay within the model's
window, and the ledger verifies."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.fakes.misbehave import Misbehave
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.db.session import read_scope
from spectra.ledger.models import LedgerTransaction
from spectra.ledger.verify import verify_ledger
from spectra.pool.models import PoolAlert
from spectra.usage.models import UsageRecord

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World, expected_cost

PROTOCOLS = {
    "anthropic": ("/v1/messages", ANTHROPIC_MODEL, 200_000),
    "chat": ("/v1/chat/completions", OPENAI_MODEL, 400_000),
    "responses": ("/v1/responses", OPENAI_MODEL, 400_000),
}
EVERY_WIRE_FORMAT = pytest.mark.parametrize(
    ("protocol", "stream"),
    [(p, s) for p in PROTOCOLS for s in (False, True)],
    ids=[f"{p}-{'stream' if s else 'body'}" for p in PROTOCOLS for s in (False, True)],
)
ABSURD: list[Any] = [-5, 12.5, 10**18, 10**30, 1e308, "lots", math.nan, math.inf]


def _body(protocol: str, *, stream: bool, text: str = "hello there") -> dict[str, Any]:
    _, model, _ = PROTOCOLS[protocol]
    if protocol == "responses":
        return {"model": model, "stream": stream, "input": text}
    body: dict[str, Any] = {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    if protocol == "anthropic":
        body["max_tokens"] = 100
    return body


async def _send(
    client: httpx.AsyncClient, world: World, protocol: str, *, stream: bool
) -> httpx.Response:
    path = PROTOCOLS[protocol][0]
    return await client.post(
        path,
        headers=world.headers(anthropic=protocol == "anthropic"),
        json=_body(protocol, stream=stream),
    )


async def _check_books(world: World, spent_from: int) -> list[UsageRecord]:
    """Every record's cost is its tokens at the price, its transaction exists iff it cost
    something, the wallet moved by exactly the records' costs, and the ledger verifies."""
    await world.settle()
    records = await world.records()
    async with read_scope(world.runtime.db) as session:
        txns = {t.id for t in (await session.execute(select(LedgerTransaction))).scalars()}
        assert (await verify_ledger(session)).ok
    for r in records:
        assert r.cost_micros == expected_cost(
            r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens
        )
        assert (r.ledger_transaction_id in txns) == (r.cost_micros > 0)
    wallet = await world.wallet_id()
    assert await world.balance(wallet) == spent_from - sum(r.cost_micros for r in records)
    return records


async def _alerts(world: World) -> list[PoolAlert]:
    async with read_scope(world.runtime.db) as session:
        rows = await session.execute(select(PoolAlert).where(PoolAlert.kind == "usage_anomaly"))
        return list(rows.scalars())


@EVERY_WIRE_FORMAT
async def test_an_answer_without_usage_is_billed_on_the_estimate_and_marked(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, protocol: str, stream: bool
) -> None:
    fake.script(Misbehave(reply=Reply(text="x" * 400, input_tokens=50), drop_usage=True))
    resp = await _send(client, pooled, protocol, stream=stream)
    assert resp.status_code == 200
    (record,) = await _check_books(pooled, 10_000_000)
    assert record.status == "ok"
    assert record.is_estimated
    assert record.input_tokens > 0  # the request body's bytes / 4
    assert record.output_tokens >= 100  # the 400 generated characters / 4
    assert record.cost_micros > 0
    assert await _alerts(pooled) == []  # no usage is not an anomaly of the account


@EVERY_WIRE_FORMAT
async def test_absurd_usage_is_clamped_or_estimated_recorded_and_alerted(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, protocol: str, stream: bool
) -> None:
    await pooled.recharge("1000")
    window = PROTOCOLS[protocol][2]
    for value in ABSURD:
        fake.script(Misbehave(reply=Reply(text="x" * 40), usage_value=value))
        resp = await _send(client, pooled, protocol, stream=stream)
        assert resp.status_code == 200, (value, resp.text)
    records = await _check_books(pooled, 1_010_000_000)
    assert len(records) == len(ABSURD)
    for r in records:
        assert r.status == "ok"
        assert r.is_estimated
        assert r.input_tokens + r.cache_read_tokens + r.cache_write_tokens <= window
        assert r.output_tokens <= window
    (alert,) = await _alerts(pooled)  # one per account per five minutes; every one is logged
    assert alert.subject in ("anthropic-a", "openai-a")
    assert alert.details["anomalies"]


@EVERY_WIRE_FORMAT
async def test_garbage_from_the_upstream_never_breaks_the_books(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, protocol: str, stream: bool
) -> None:
    fake.script(Misbehave(reply=Reply(text="x" * 40, input_tokens=30), garbage=True))
    resp = await _send(client, pooled, protocol, stream=stream)
    assert resp.status_code < 500
    records = await _check_books(pooled, 10_000_000)
    assert len(records) == 1


@pytest.mark.parametrize(
    "flood",
    [Misbehave(reply=Reply(), header_count=3000), Misbehave(reply=Reply(), header_size=200_000)],
    ids=["many", "huge"],
)
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
async def test_a_header_flood_is_an_upstream_error_not_a_crash(
    client: httpx.AsyncClient,
    pooled: World,
    fake: FakeUpstream,
    protocol: str,
    flood: Misbehave,
) -> None:
    fake.script(flood)
    resp = await _send(client, pooled, protocol, stream=True)
    # Unreadable headers: an upstream failure (502, failover first), billed nothing, and
    # neither the account's URL nor the upstream's header text reaches the member.
    assert resp.status_code == 502, resp.text
    assert "upstream_failure" in resp.text
    assert fake.url not in resp.text
    assert "zzzz" not in resp.text
    (record,) = await _check_books(pooled, 10_000_000)
    assert record.status == "error"
    assert record.cost_micros == 0
