"""An admin's price for one pool account (`spectra prices set MODEL --account NAME`): charged when
that account serves the model, before the provider's price and the default; the other accounts
serving the same model keep theirs. The hold covers the dearer account before it is sent."""

from __future__ import annotations

from decimal import Decimal

import httpx
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.db.session import session_scope
from spectra.kit.money import round_micros
from spectra.usage import service as usage_service

from .world import ANTHROPIC_MODEL, OWNER, World, expected_cost

BODY = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 1000,
    "messages": [{"role": "user", "content": "hi"}],
}
# World prices Sonnet at 3/15 per million: the hold for 1000 output tokens is about $0.015.
# The negotiated account's 9/45 holds about $0.045; a $0.03 balance covers only the others.
THIN = "0.03"


def cost(input_tokens: int, output_tokens: int, input_price: str, output_price: str) -> int:
    total = input_tokens * Decimal(input_price) + output_tokens * Decimal(output_price)
    return int(round_micros(total))


async def two_accounts(world: World, fake: FakeUpstream) -> None:
    """`Negotiated` (preferred) has a dear account price, `discount` a cheap one (account names
    match case-insensitively, as pool account names are unique)."""
    await world.add_account(
        "Negotiated", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.add_account(
        "discount", provider="anthropic", base_url=fake.url, models=["claude-*"], priority=1
    )
    async with session_scope(world.runtime.db) as session:
        dear = await usage_service.set_price(
            session, OWNER, model=ANTHROPIC_MODEL, input="9", output="45", account="negotiated"
        )
        cheap = await usage_service.set_price(
            session, OWNER, model=ANTHROPIC_MODEL, input="1", output="5", account="Discount"
        )
    assert [(p.model, p.account) for p in (dear, cheap)] == [
        (ANTHROPIC_MODEL, "Negotiated"),
        (ANTHROPIC_MODEL, "discount"),
    ]
    await world.sync()


async def test_each_account_charges_its_own_price_for_the_same_model(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    await two_accounts(world, fake)
    await world.recharge("10")
    fake.script(Reply(text="dear", input_tokens=100, output_tokens=20))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=BODY)
    assert resp.status_code == 200, resp.text
    await world.settle()
    (record,) = await world.records()
    assert record.account_id == world.accounts["Negotiated"]
    assert record.cost_micros == cost(100, 20, "9", "45") == 1_800
    assert record.cost_micros != expected_cost(100, 20)

    assert len(fake.requests) == 1


async def test_the_hold_covers_the_dearer_account_before_it_is_sent(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    # The balance covers the list price (and `discount`'s) but not the preferred account's
    # dearer price: that account is not sent the request; `discount` serves it, charged at its
    # own price, not the list price.
    await two_accounts(world, fake)
    await world.recharge(THIN)
    fake.script(Reply(text="cheap", input_tokens=100, output_tokens=20))
    resp = await client.post("/v1/messages", headers=world.headers(anthropic=True), json=BODY)
    assert resp.status_code == 200, resp.text
    assert len(fake.requests) == 1
    await world.settle()
    (record,) = await world.records()
    assert record.account_id == world.accounts["discount"]
    assert record.cost_micros == cost(100, 20, "1", "5") == 200
    assert await world.balance(await world.wallet_id()) == 30_000 - 200
