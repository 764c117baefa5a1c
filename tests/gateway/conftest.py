"""Gateway fixtures: the fake upstream, and a workspace (member, key, prices) on a runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from tests.fakes.upstream import FakeUpstream

from spectra.runtime import Runtime

from .world import UPSTREAM_KEY, World, build_world


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as upstream:
        yield upstream


@pytest_asyncio.fixture
async def world(runtime: Runtime, app: object) -> World:
    """A member with a key and priced models; `app` is built so the gateway routes exist."""
    return await build_world(runtime)


@pytest_asyncio.fixture
async def pooled(world: World, fake: FakeUpstream) -> World:
    """`world` plus one Anthropic and one OpenAI account on the fake upstream, and $10 in the wallet."""
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.add_account("openai-a", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.recharge("10")
    return world
