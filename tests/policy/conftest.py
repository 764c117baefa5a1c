"""Policy fixtures: the gateway tests' fake upstream and workspace, reused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from tests.fakes.upstream import FakeUpstream
from tests.gateway.world import UPSTREAM_KEY, World, build_world

from spectra.runtime import Runtime


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as upstream:
        yield upstream


@pytest_asyncio.fixture
async def pooled(runtime: Runtime, app: object, fake: FakeUpstream) -> World:
    """A member with a key, priced models, Anthropic and OpenAI accounts on the fake upstream,
    and $100 in the wallet; `app` is built so the gateway routes exist."""
    world = await build_world(runtime)
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.add_account("openai-a", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.recharge("100")
    return world
