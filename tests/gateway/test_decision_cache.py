"""The gateway decides once per (key, model, client, project) and snapshot: a change to what the
decision reads must reach the very next request, whatever was cached before it."""

from __future__ import annotations

import httpx

from spectra.db.session import session_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.keys import service as keys_service
from spectra.policy import service as policy_service
from spectra.policy.repository import GroupRules
from spectra.usage import service as usage_service
from spectra.users import service as users_service

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, OWNER, World

MESSAGES = [{"role": "user", "content": "hi"}]


async def _chat(
    client: httpx.AsyncClient, world: World, model: str = OPENAI_MODEL
) -> httpx.Response:
    body = {"model": model, "max_tokens": 50, "messages": MESSAGES}
    return await client.post("/v1/chat/completions", headers=world.headers(), json=body)


async def _warm(client: httpx.AsyncClient, world: World, model: str = OPENAI_MODEL) -> None:
    """Two admitted requests: the second is decided from the cache the first filled."""
    for _ in range(2):
        resp = await _chat(client, world, model)
        assert resp.status_code == 200, resp.text
    gw = gateway_wiring.current()
    assert gw is not None
    assert gw.policy.snapshot.static, "the decision was not cached"


def _code(resp: httpx.Response) -> str:
    code = resp.json()["error"]["code"]
    assert isinstance(code, str)
    return code


async def test_a_group_denying_the_model_refuses_the_next_request(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _warm(client, pooled)
    async with session_scope(pooled.runtime.db) as session:
        await policy_service.apply_group_rules(
            session, OWNER, group_id=pooled.group_id, rules=GroupRules(denied_models=("gpt-*",))
        )
    await pooled.sync()
    resp = await _chat(client, pooled)
    assert resp.status_code == 403
    assert _code(resp) == "model_denied"
    # and undoing it admits again
    async with session_scope(pooled.runtime.db) as session:
        await policy_service.apply_group_rules(
            session, OWNER, group_id=pooled.group_id, rules=GroupRules()
        )
    await pooled.sync()
    assert (await _chat(client, pooled)).status_code == 200


async def test_a_new_package_pays_from_the_next_request(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _warm(client, pooled, ANTHROPIC_MODEL)
    allowance = await pooled.give_package("Starter", allowance="20", patterns=["claude-*"])
    assert (await _chat(client, pooled, ANTHROPIC_MODEL)).status_code == 200
    await pooled.settle()
    assert await pooled.balance(allowance) < 20_000_000
    records = await pooled.records()
    assert records[-1].funding[0]["account_id"] == str(allowance)


async def test_a_suspended_member_is_refused_at_once(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _warm(client, pooled)
    async with session_scope(pooled.runtime.db) as session:
        await users_service.suspend_user(session, OWNER, user=pooled.user_id, reason="test")
    await pooled.sync()
    resp = await _chat(client, pooled)
    assert resp.status_code == 403
    assert _code(resp) == "user_suspended"


async def test_a_revoked_key_is_refused_at_once(client: httpx.AsyncClient, pooled: World) -> None:
    await _warm(client, pooled)
    async with session_scope(pooled.runtime.db) as session:
        await keys_service.revoke_key(session, OWNER, key_id=pooled.key_id)
    await pooled.sync()
    resp = await _chat(client, pooled)
    assert resp.status_code == 401
    assert _code(resp) == "key_revoked"


async def test_a_price_change_is_charged_from_the_next_request(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _warm(client, pooled)
    await pooled.settle()
    before = (await pooled.records())[-1]
    async with session_scope(pooled.runtime.db) as session:
        await usage_service.set_price(
            session,
            OWNER,
            model=OPENAI_MODEL,
            input="6",
            output="30",
            cache_read="0.6",
            cache_write="7.5",
        )
    await pooled.sync()
    assert (await _chat(client, pooled)).status_code == 200
    await pooled.settle()
    after = (await pooled.records())[-1]
    assert after.request_id != before.request_id
    assert (after.input_tokens, after.output_tokens) == (before.input_tokens, before.output_tokens)
    assert after.cost_micros == 2 * before.cost_micros


async def test_a_reached_group_cap_refuses_though_the_rules_were_cached(
    client: httpx.AsyncClient, pooled: World
) -> None:
    async with session_scope(pooled.runtime.db) as session:
        await policy_service.apply_group_rules(
            session, OWNER, group_id=pooled.group_id, rules=GroupRules(monthly_cap_micros=1)
        )
    await pooled.sync()
    assert (await _chat(client, pooled)).status_code == 200  # spent 0 of 1: admitted, cached
    await pooled.settle()
    resp = await _chat(client, pooled)
    assert _code(resp) == "group_cap_reached"
    assert resp.status_code == 402


async def test_an_emptied_wallet_refuses_though_the_rules_were_cached(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _warm(client, pooled)
    async with session_scope(pooled.runtime.db) as session:
        await policy_service.set_group_funding(
            session, OWNER, group=pooled.group_id, wallet_fallback=False
        )
    await pooled.sync()
    resp = await _chat(client, pooled)
    assert resp.status_code == 402
    assert _code(resp) in {"no_funding_source", "wallet_empty"}
