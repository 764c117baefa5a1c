"""Model fallback chains in the gateway, and billing at the served model's price.

On overload, rate limit (after failover across the pool) or context too long, the gateway
tries the asked model's chain in order; the member's key, packages and group must allow the
fallback model (else it is skipped, and the record says why); the charge is at the served
model's price; the usage record keeps model and protocol asked and served and the reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from tests.fakes.upstream import Fail, FakeUpstream, Reply

from spectra.audit.actor import Actor
from spectra.db.session import session_scope
from spectra.kit.money import round_micros
from spectra.pool import fallbacks as fallbacks_service
from spectra.pool.fallbacks import FallbackSet
from spectra.runtime import Runtime
from spectra.usage import service as usage_service

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, OWNER, World, build_world, expected_cost

ASKED = "claude-opus-4-8"
# The asked model costs five times the fallback (World prices every model at 3/15).
OPUS = {"input": "15", "output": "75"}


def opus_cost(input_tokens: int, output_tokens: int) -> int:
    total = input_tokens * Decimal(OPUS["input"]) + output_tokens * Decimal(OPUS["output"])
    return int(round_micros(total))


def body(model: str = ASKED) -> dict[str, object]:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


async def sonnet_account(world: World, fake: FakeUpstream) -> None:
    """A second account serving only the fallback: the first cools down when it overloads."""
    await world.add_account(
        "sonnet-only", provider="anthropic", base_url=fake.url, models=[ANTHROPIC_MODEL]
    )


async def set_chain(world: World, model: str, chain: list[str], group: str | None = None) -> None:
    async with session_scope(world.runtime.db) as session:
        await fallbacks_service.set_fallbacks(
            session, OWNER, data=FallbackSet(model=model, chain=chain, group=group)
        )
    await world.sync()


async def price_opus(world: World) -> None:
    async with session_scope(world.runtime.db) as session:
        await usage_service.set_price(
            session, OWNER, model=ASKED, input=OPUS["input"], output=OPUS["output"]
        )
    await world.sync()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("overloaded", "overloaded"),
        ("rate_limited", "rate_limited"),
        ("context_too_long", "context_too_long"),
    ],
)
async def test_each_trigger_falls_back_and_charges_the_served_price(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream, kind: str, reason: str
) -> None:
    await price_opus(pooled)
    await sonnet_account(pooled, fake)
    await set_chain(pooled, ASKED, [ANTHROPIC_MODEL])
    fake.script(Fail(kind), Reply(text="from the fallback", input_tokens=100, output_tokens=20))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    assert [r.json()["model"] for r in fake.requests] == [ASKED, ANTHROPIC_MODEL]
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.status == "ok"
    assert record.model_requested == ASKED
    assert record.model_served == ANTHROPIC_MODEL
    assert record.protocol == record.protocol_served == "anthropic_messages"
    assert record.fallback_reason == reason
    assert record.fallback_trace == f"tried {ANTHROPIC_MODEL}"
    assert resp.headers["x-spectra-fallback"] == f"{reason}: tried {ANTHROPIC_MODEL}"
    assert record.attempts == 2
    # Charged at the fallback's price, not the asked (five times dearer) model's.
    assert record.cost_micros == expected_cost(100, 20)
    assert record.cost_micros != opus_cost(100, 20)
    wallet = await pooled.wallet_id()
    assert await pooled.balance(wallet) == 10_000_000 - record.cost_micros


async def test_no_chain_no_fallback(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    fake.script(Fail("overloaded"))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body())
    assert resp.status_code == 529
    assert len(fake.requests) == 1
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.status == "error"
    assert record.fallback_reason == "overloaded"
    assert record.fallback_trace is None


async def test_an_error_that_is_not_a_trigger_does_not_fall_back(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    await set_chain(pooled, ASKED, [ANTHROPIC_MODEL])
    fake.script(Fail("invalid_request"))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body())
    assert resp.status_code == 400
    assert len(fake.requests) == 1
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.fallback_reason is None


async def test_a_chain_walks_on_until_a_model_answers(
    client: httpx.AsyncClient,
    pooled: World,
    fake: FakeUpstream,
    act_as: Callable[[Actor], None],
) -> None:
    await sonnet_account(pooled, fake)
    await set_chain(pooled, ASKED, [ANTHROPIC_MODEL, OPENAI_MODEL])
    fake.script(Fail("overloaded"), Fail("overloaded"), Reply(text="gpt", output_tokens=3))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "message"  # translated back to the caller's protocol
    await pooled.settle()
    (record,) = await pooled.records()
    assert record.model_served == OPENAI_MODEL
    assert record.protocol_served == "openai_responses"
    assert record.fallback_trace == f"tried {ANTHROPIC_MODEL}; tried {OPENAI_MODEL}"
    assert record.attempts == 3
    # The usage API and the export show asked and served, and the fallback.
    act_as(OWNER)
    (item,) = (await client.get("/api/usage")).json()["items"]
    assert (item["protocol"], item["protocol_served"]) == ("anthropic_messages", "openai_responses")
    assert (item["model_requested"], item["model_served"]) == (ASKED, OPENAI_MODEL)
    assert item["fallback_reason"] == "overloaded"
    assert item["fallback_trace"] == record.fallback_trace
    export = await client.get("/api/usage/export", params={"format": "jsonl"})
    (row,) = [json.loads(line) for line in export.text.splitlines() if line.strip()]
    assert (row["protocol_served"], row["fallback_reason"]) == ("openai_responses", "overloaded")


async def test_no_free_account_for_a_fallback_moves_on_and_streams(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    # The overload cools the only Anthropic account: Sonnet finds no free account
    # (no_account_available, itself a trigger), so gpt-5 serves, streamed and translated.
    await set_chain(pooled, ASKED, [ANTHROPIC_MODEL, OPENAI_MODEL])
    fake.script(Fail("overloaded"), Reply(text="streamed from gpt", pieces=3, output_tokens=4))
    resp = await client.post(
        "/v1/messages",
        headers=pooled.headers(anthropic=True),
        json={**body(), "stream": True},
    )
    assert resp.status_code == 200, resp.text
    assert b"message_stop" in resp.content
    trace = f"tried {ANTHROPIC_MODEL}; tried {OPENAI_MODEL}"
    assert resp.headers["x-spectra-fallback"] == f"overloaded: {trace}"
    await pooled.settle()
    (record,) = await pooled.records()
    assert (record.status, record.model_served) == ("ok", OPENAI_MODEL)
    assert record.fallback_trace == trace
    assert record.attempts == 2  # Sonnet never reached an account


@pytest.fixture
async def scoped(runtime: Runtime, app: object, fake: FakeUpstream) -> World:
    """A member whose key may use only Opus (and, in the chain below, gpt-5 is allowed)."""
    world = await build_world(runtime, scopes=[ASKED, OPENAI_MODEL])
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.add_account("openai-a", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.recharge("10")
    return world


async def test_a_fallback_the_key_does_not_allow_is_skipped_and_said(
    client: httpx.AsyncClient, scoped: World, fake: FakeUpstream
) -> None:
    await set_chain(scoped, ASKED, [ANTHROPIC_MODEL, OPENAI_MODEL])
    fake.script(Fail("overloaded"), Reply(text="gpt", input_tokens=10, output_tokens=3))
    resp = await client.post("/v1/messages", headers=scoped.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    # Sonnet was never sent: the key's scope does not allow it.
    assert [r.json()["model"] for r in fake.requests] == [ASKED, OPENAI_MODEL]
    await scoped.settle()
    (record,) = await scoped.records()
    assert record.model_served == OPENAI_MODEL
    assert record.fallback_trace == (
        f"{ANTHROPIC_MODEL} skipped: model_not_in_key_scope; tried {OPENAI_MODEL}"
    )


async def test_when_no_fallback_is_allowed_the_original_error_stands(
    client: httpx.AsyncClient, scoped: World, fake: FakeUpstream
) -> None:
    await set_chain(scoped, ASKED, [ANTHROPIC_MODEL])
    fake.script(Fail("overloaded"))
    resp = await client.post("/v1/messages", headers=scoped.headers(anthropic=True), json=body())
    assert resp.status_code == 529
    assert len(fake.requests) == 1
    await scoped.settle()
    (record,) = await scoped.records()
    assert record.status == "error"
    assert record.cost_micros == 0
    assert record.fallback_reason == "overloaded"
    assert record.fallback_trace == f"{ANTHROPIC_MODEL} skipped: model_not_in_key_scope"
    wallet = await scoped.wallet_id()
    assert await scoped.balance(wallet) == 10_000_000


async def test_a_groups_chain_replaces_the_workspaces(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    await set_chain(pooled, ASKED, [ANTHROPIC_MODEL])
    async with session_scope(pooled.runtime.db) as session:
        from spectra.users.models import Group

        group = await session.get(Group, pooled.group_id)
        assert group is not None
        name = group.name
    await set_chain(pooled, ASKED, [OPENAI_MODEL], group=name)
    fake.script(Fail("overloaded"), Reply(text="gpt", output_tokens=3))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    assert [r.json()["model"] for r in fake.requests] == [ASKED, OPENAI_MODEL]


async def test_an_alias_is_charged_at_the_served_models_price(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # The account serves "claude-sonnet-4-5" as Opus upstream: the charge is Opus's price.
    await price_opus(world)
    await world.add_account(
        "aliased",
        provider="anthropic",
        base_url=fake.url,
        models=[ASKED],
        aliases={ANTHROPIC_MODEL: ASKED},
    )
    await world.recharge("10")
    fake.script(Reply(text="hello", input_tokens=1000, output_tokens=200))
    resp = await client.post(
        "/v1/messages", headers=world.headers(anthropic=True), json=body(ANTHROPIC_MODEL)
    )
    assert resp.status_code == 200, resp.text
    assert fake.requests[-1].json()["model"] == ASKED
    await world.settle()
    (record,) = await world.records()
    assert record.model_requested == ANTHROPIC_MODEL
    assert record.model_served == ASKED
    assert record.cost_micros == opus_cost(1000, 200)
    assert record.cost_micros != expected_cost(1000, 200)


async def test_a_cleared_chain_stops_falling_back(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    await sonnet_account(pooled, fake)
    await set_chain(pooled, ASKED, [ANTHROPIC_MODEL])
    async with session_scope(pooled.runtime.db) as session:
        await fallbacks_service.clear_fallbacks(session, OWNER, model=ASKED)
    await pooled.sync()  # the change feed reloads the gateway's chains
    fake.script(Fail("overloaded"))
    resp = await client.post("/v1/messages", headers=pooled.headers(anthropic=True), json=body())
    assert resp.status_code == 529
    assert "x-spectra-fallback" not in resp.headers
    assert [r.json()["model"] for r in fake.requests] == [ASKED]
