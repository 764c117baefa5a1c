"""The Redis client under concurrency: more calls in flight than redis-py's default pool allows
(100) wait for a connection instead of failing with "Too many connections" — which the hold view
would have taken for an outage and refused requests for (fail closed) with Redis healthy."""

from __future__ import annotations

import asyncio

from tests.support.redis import shared_redis


async def test_hundreds_of_concurrent_calls_all_succeed() -> None:
    async with shared_redis() as shared:
        key = shared.key("n")
        results = await asyncio.gather(*(shared.client.incr(key) for _ in range(300)))
    assert sorted(results) == list(range(1, 301))
