"""GET /v1/models lists only chat-style models this caller may use AND some account that is on
duty and open to the caller's group serves (after aliases)."""

from __future__ import annotations

import httpx
from tests.fakes.upstream import FakeUpstream, Reply

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


# Names that say nothing about what the model makes: genai-prices prices voxtral per audio hour
# and gemini-nano-banana per output image token.
PRICED_NOT_CHAT = ("voxtral-mini-2602", "gemini-nano-banana-2.1", "text-embedding-3-small")
# Open models an OpenAI-compatible server (Ollama, vLLM) serves under names a name filter
# used to drop: an Ollama tag with a colon, a chat model called "instruct".
OPEN_CHAT = ("qwen3-coder:30b", "qwen2.5-coder-32b-instruct")


async def test_the_price_table_says_what_a_model_makes_and_open_chat_models_stay(
    client: httpx.AsyncClient, world: World, fake: FakeUpstream
) -> None:
    from spectra.usage import service as usage_service
    from spectra.usage.defaults import generation_kind

    assert [generation_kind(m) for m in PRICED_NOT_CHAT] == ["audio", "image", "none"]
    assert [generation_kind(m) for m in OPEN_CHAT] == [None, None]  # unknown: the name decides
    await world.add_account(
        "compatible",
        provider="openai_compatible",
        base_url=fake.url,
        models=[*PRICED_NOT_CHAT, *OPEN_CHAT, "deepseek-chat"],
    )
    async with session_scope(world.runtime.db) as session:
        for model in OPEN_CHAT:  # genai-prices does not know them: the admin prices them
            await usage_service.set_price(session, OWNER, model=model, input="0.1", output="0.2")
    await world.recharge("1")
    await world.sync()
    assert await listed(client, world) == {*OPEN_CHAT, "deepseek-chat"}
    # Listed means servable: the generation endpoint takes a listed open model.
    fake.script(Reply(text="hi"))
    resp = await client.post(
        "/v1/chat/completions",
        headers=world.headers(),
        json={"model": OPEN_CHAT[0], "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
