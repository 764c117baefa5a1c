"""Each upstream error type: failover before the first byte when retryable, pass-through when
not; never billed twice."""

from __future__ import annotations

import httpx
import pytest
from tests.fakes.upstream import ERROR_KINDS, Fail, FakeUpstream, Hang, Reply, Reset

from spectra.gateway import wiring

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, World, expected_cost

RETRYABLE = {
    "rate_limited",
    "overloaded",
    "auth_failed",
    "permission_denied",
    "server_error",
    "quota_exhausted",
}


@pytest.fixture
async def two_accounts(world: World, fake: FakeUpstream) -> World:
    for name in ("first", "second"):
        await world.add_account(name, provider="anthropic", base_url=fake.url, models=["claude-*"])
        await world.add_account(
            f"oa-{name}", provider="openai", base_url=fake.url, models=["gpt-*"]
        )
    await world.recharge("10")
    return world


@pytest.mark.parametrize("kind", ERROR_KINDS)
async def test_error_type(
    client: httpx.AsyncClient, two_accounts: World, fake: FakeUpstream, kind: str
) -> None:
    fake.script(Fail(kind), Reply(text="second try", input_tokens=10, output_tokens=3))
    resp = await client.post(
        "/v1/messages",
        headers=two_accounts.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    await two_accounts.settle()
    records = await two_accounts.records()
    wallet = await two_accounts.balance(await two_accounts.wallet_id())
    if kind in RETRYABLE:
        assert resp.status_code == 200
        assert "second try" in resp.text
        (record,) = records
        assert record.attempts == 2
        assert record.cost_micros == expected_cost(10, 3)
        assert wallet == 10_000_000 - expected_cost(10, 3)
    else:
        assert resp.status_code >= 400
        assert resp.json()["type"] == "error"
        assert resp.headers["x-spectra-upstream-error"] in ("invalid_request", "context_too_long")
        (record,) = records
        assert record.status == "error"
        assert record.cost_micros == 0
        assert wallet == 10_000_000
        assert len(fake.requests) == 1


async def test_connection_reset_fails_over(
    client: httpx.AsyncClient, two_accounts: World, fake: FakeUpstream
) -> None:
    fake.script(Reset(), Reply(text="after reset"))
    resp = await client.post(
        "/v1/chat/completions",
        headers=two_accounts.headers(),
        json={"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200
    assert "after reset" in resp.text


async def test_first_byte_timeout_fails_over(
    client: httpx.AsyncClient, two_accounts: World, fake: FakeUpstream
) -> None:
    gw = wiring.current()
    assert gw is not None
    gw.settings.gateway_first_byte_timeout = 0.3
    fake.script(Hang(5), Reply(text="after hang"))
    resp = await client.post(
        "/v1/chat/completions",
        headers=two_accounts.headers(),
        json={"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200
    assert "after hang" in resp.text


async def test_every_account_failing_passes_the_last_error_through(
    client: httpx.AsyncClient, two_accounts: World, fake: FakeUpstream
) -> None:
    fake.script(Fail("overloaded"), Fail("overloaded"))
    resp = await client.post(
        "/v1/messages",
        headers=two_accounts.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert resp.status_code == 529
    assert resp.json()["error"]["type"] == "overloaded_error"
    await two_accounts.settle()
    (record,) = await two_accounts.records()
    assert (record.status, record.attempts, record.cost_micros) == ("error", 2, 0)
