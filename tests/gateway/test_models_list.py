"""GET /v1/models lists only chat-style models this caller may use AND some account that is on
duty and open to the caller's group serves (after aliases)."""

from __future__ import annotations

import httpx
from tests.fakes.upstream import FakeUpstream

from spectra.db.session import session_scope
from spectra.pool import service as pool_service
from spectra.runtime import Runtime

from .world import ANTHROPIC_MODEL, OPENAI_MODEL, OWNER, World, build_world


async def listed(client: httpx.AsyncClient, world: World) -> set[str]:
    resp = await client.get("/v1/models", headers=world.headers())
    assert resp.status_code == 200
    return {m["id"] for m in resp.json()["data"]}


async def test_only_chat_models_are_listed(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    ids = await listed(client, pooled)
    assert {ANTHROPIC_MODEL, OPENAI_MODEL} <= ids
    # genai-prices knows these for the gpt-* pattern; the endpoints cannot serve them.
    for model in ("gpt-image-1", "gpt-realtime", "gpt-4o-mini-tts", "gpt-4o-transcribe"):
        assert model not in ids
    assert not {m for m in ids if "embedding" in m or "whisper" in m or "audio" in m}


async def test_a_disabled_account_serves_nothing_to_list(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    async with session_scope(pooled.runtime.db) as session:
        await pool_service.disable_account(
            session, OWNER, account_id=pooled.accounts["openai-a"], reason="maintenance"
        )
    await pooled.sync()
    ids = await listed(client, pooled)
    assert ANTHROPIC_MODEL in ids
    assert not {m for m in ids if m.startswith("gpt-")}


async def test_an_alias_is_listed_and_an_account_of_another_group_is_not(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream, runtime: Runtime
) -> None:
    other = await build_world(runtime)
    await world.add_account(
        "aliased",
        provider="openai",
        base_url=fake.url,
        models=[OPENAI_MODEL],
        aliases={"claude-opus-4-8": OPENAI_MODEL},
    )
    await world.add_account(
        "theirs",
        provider="anthropic",
        base_url=fake.url,
        models=[ANTHROPIC_MODEL],
        groups=[str(other.group_id)],
    )
    await world.recharge("1")
    await other.recharge("1")
    assert await listed(client, world) == {OPENAI_MODEL, "claude-opus-4-8"}
    assert await listed(client, other) == {OPENAI_MODEL, "claude-opus-4-8", ANTHROPIC_MODEL}


async def test_a_model_the_key_may_not_use_is_not_listed(
    client: httpx.AsyncClient, runtime: Runtime, app: object, fake: FakeUpstream
) -> None:
    world = await build_world(runtime, scopes=["claude-*"])
    await world.add_account("a", provider="anthropic", base_url=fake.url, models=["claude-*"])
    await world.add_account("o", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.recharge("1")
    ids = await listed(client, world)
    assert ANTHROPIC_MODEL in ids
    assert not {m for m in ids if m.startswith("gpt-")}
