"""Trying to break the money side of fallbacks and served-model prices.

The hold must cover what settlement charges: a fallback model is held at its own price before it
is sent, and so is a model an account serves as a dearer upstream model (an alias). A member
whose balance covers the cheap asked model but not the dear served one is refused (or the dear
option skipped) before anything reaches the upstream, and nothing is charged. When every model
of a chain is skipped, the caller's error (in its own protocol) names what was tried and why."""

from __future__ import annotations

import httpx
from tests.fakes.upstream import Fail, FakeUpstream, Reply

from .test_fallbacks import ASKED as OPUS_MODEL
from .test_fallbacks import opus_cost, price_opus, set_chain
from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World, expected_cost

# Sonnet and gpt-5 cost 3/15 per million (World); Opus 15/75. With max_tokens 1000 the hold
# is about $0.015 for Sonnet and $0.075 for Opus: a $0.03 balance covers only the cheap one.
THIN = "0.03"
THIN_MICROS = 30_000


def body(model: str = ANTHROPIC_MODEL, **extra: object) -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


async def thin_world(world: World, fake: FakeUpstream, **account: object) -> None:
    await price_opus(world)
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"], **account
    )
    await world.recharge(THIN)


async def test_cheap_asked_dear_fallback_beyond_the_balance_is_skipped_and_said(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await thin_world(world, fake)
    await set_chain(world, ANTHROPIC_MODEL, [OPUS_MODEL])
    fake.script(Fail("overloaded"), Reply(text="never sent"))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=body())
    assert resp.status_code == 529
    # Opus was never sent: its hold did not fit.
    assert [r.json()["model"] for r in fake.requests] == [ANTHROPIC_MODEL]
    error = resp.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "overloaded_error"
    assert error["error"]["message"].endswith(
        f" Fallbacks for {ANTHROPIC_MODEL}: {OPUS_MODEL} skipped: insufficient_funds."
    )
    await world.settle()
    (record,) = await world.records()
    assert (record.status, record.cost_micros) == ("error", 0)
    assert record.fallback_trace == f"{OPUS_MODEL} skipped: insufficient_funds"
    assert await world.balance(await world.wallet_id()) == THIN_MICROS


async def test_cheap_asked_dear_fallback_within_the_balance_is_held_and_charged_dear(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await thin_world(world, fake)
    await world.add_account("opus", provider="anthropic", base_url=fake.url, models=[OPUS_MODEL])
    await world.recharge("1")
    await set_chain(world, ANTHROPIC_MODEL, [OPUS_MODEL])
    fake.script(Fail("overloaded"), Reply(text="opus", input_tokens=100, output_tokens=900))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    await world.settle()
    (record,) = await world.records()
    assert record.model_served == OPUS_MODEL
    assert record.cost_micros == opus_cost(100, 900)
    assert await world.balance(await world.wallet_id()) == 1_030_000 - opus_cost(100, 900)


async def test_an_alias_to_a_dearer_model_beyond_the_balance_is_refused_unsent(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # Sonnet is admitted at its own (cheap) price, but the only account sends it as Opus.
    await thin_world(world, fake, aliases={ANTHROPIC_MODEL: OPUS_MODEL})
    fake.script(Reply(text="never sent"))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=body())
    assert resp.status_code == 402, resp.text
    assert resp.headers["x-spectra-reason"] == "wallet_empty"
    message = resp.json()["error"]["message"]
    assert f"{ANTHROPIC_MODEL} (as {OPUS_MODEL})" not in message  # the sentence is the wallet's
    assert "needs about" in message
    assert fake.requests == []
    await world.settle()
    (record,) = await world.records()
    assert (record.status, record.refusal_reason, record.refusal_rule) == (
        "refused",
        "wallet_empty",
        "hold",
    )
    assert record.cost_micros == 0
    assert await world.balance(await world.wallet_id()) == THIN_MICROS


async def test_the_same_request_fits_when_the_alias_is_not_dearer(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # The control for the test above: the same balance and body pass on a plain account.
    await thin_world(world, fake)
    fake.script(Reply(text="ok", input_tokens=10, output_tokens=5))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    await world.settle()
    (record,) = await world.records()
    assert record.cost_micros == expected_cost(10, 5)


async def test_a_dear_alias_account_is_skipped_for_one_that_serves_the_asked_price(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # Two accounts serve Sonnet: the preferred tier sends it as Opus (too dear for the
    # balance), the next tier as Sonnet. The request goes to the second, charged at Sonnet's.
    await thin_world(world, fake, aliases={ANTHROPIC_MODEL: OPUS_MODEL})
    await world.add_account(
        "plain", provider="anthropic", base_url=fake.url, models=[ANTHROPIC_MODEL], priority=1
    )
    fake.script(Reply(text="ok", input_tokens=10, output_tokens=5))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    assert [r.json()["model"] for r in fake.requests] == [ANTHROPIC_MODEL]
    await world.settle()
    (record,) = await world.records()
    assert (record.model_served, record.attempts) == (ANTHROPIC_MODEL, 1)
    assert record.cost_micros == expected_cost(10, 5)
    assert await world.balance(await world.wallet_id()) == THIN_MICROS - expected_cost(10, 5)


async def test_an_alias_to_a_dearer_model_within_the_balance_is_charged_its_price(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await thin_world(world, fake, aliases={ANTHROPIC_MODEL: OPUS_MODEL})
    await world.recharge("1")
    fake.script(Reply(text="ok", input_tokens=100, output_tokens=900))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=body())
    assert resp.status_code == 200, resp.text
    assert [r.json()["model"] for r in fake.requests] == [OPUS_MODEL]
    await world.settle()
    (record,) = await world.records()
    assert record.cost_micros == opus_cost(100, 900)


async def test_a_chain_with_nothing_usable_names_each_model_in_the_callers_protocol(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # An OpenAI caller; the chain holds an unpriced model and a dear one beyond the balance.
    await price_opus(world)
    await world.add_account("openai-a", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.recharge(THIN)
    await set_chain(world, OPENAI_MODEL, ["gpt-unpriced", OPUS_MODEL])
    fake.script(Fail("rate_limited"), Reply(text="never sent"))
    resp = await client.post(
        "/v1/chat/completions",
        headers=world.headers(),
        json={
            "model": OPENAI_MODEL,
            "max_tokens": 1000,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert resp.status_code == 429
    error = resp.json()["error"]
    assert "type" not in resp.json()  # OpenAI's shape, not Anthropic's {"type": "error"}
    assert set(error) >= {"message", "type", "code"}
    assert error["message"].endswith(
        f" Fallbacks for {OPENAI_MODEL}: gpt-unpriced skipped: model_unpriced; "
        f"{OPUS_MODEL} skipped: insufficient_funds."
    )
    assert len(fake.requests) == 1
    assert await world.balance(await world.wallet_id()) == THIN_MICROS


async def test_a_refusal_after_the_chain_names_it_too(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # The only Anthropic account overloads and cools down: the fallback finds no free account,
    # and the caller's refusal (no_account_available) says so.
    await thin_world(world, fake)
    await set_chain(world, OPUS_MODEL, [ANTHROPIC_MODEL])
    await world.recharge("1")
    fake.script(Fail("overloaded"))
    resp = await client.post(
        "/v1/messages", headers=world.headers(anthropic=True), json=body(OPUS_MODEL)
    )
    assert resp.status_code == 503, resp.text
    assert resp.headers["x-spectra-reason"] == "no_account_available"
    assert resp.json()["error"]["message"].endswith(
        f" Fallbacks for {OPUS_MODEL}: tried {ANTHROPIC_MODEL}."
    )
