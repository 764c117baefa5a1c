"""Rate limits and session affinity in Redis: two limiters (or affinity maps) on one prefix
stand for two serving processes and share one count; a Redis outage fails the rate-limit check
closed (`hold_store_unavailable`) and leaves affinity to each process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tests.support.redis import free_port, shared_redis

from spectra.db.redis import SharedRedis, open_redis
from spectra.errors import SpectraError
from spectra.gateway.errors import ConcurrencyLimitExceededError, RateLimitExceededError
from spectra.gateway.limits import Limit
from spectra.gateway.limits_redis import RedisRateLimiter
from spectra.pool.affinity import RedisAffinity


@pytest.fixture
async def redis() -> AsyncIterator[SharedRedis]:
    async with shared_redis() as shared:
        yield shared


def _limit(**values: int) -> Limit:
    return Limit(scope="key", subject=str(uuid.uuid4()), label="This key", **values)


class TestRedisRateLimiter:
    async def test_requests_per_minute_are_counted_once_across_processes(
        self, redis: SharedRedis
    ) -> None:
        a, b = RedisRateLimiter(redis), RedisRateLimiter(redis)
        limit = _limit(rpm=3)
        for limiter in (a, b, a):
            (await limiter.acquire([limit], 10)).finish(10)
        await a.flush()
        with pytest.raises(RateLimitExceededError) as caught:
            await b.acquire([limit], 10)
        assert caught.value.code == "rate_limit_exceeded"
        assert 1 <= caught.value.details["retry_after"] <= 60
        await b.acquire([_limit(rpm=3)], 10)  # another key is untouched

    async def test_open_requests_are_shared_and_freed_on_finish(self, redis: SharedRedis) -> None:
        a, b = RedisRateLimiter(redis), RedisRateLimiter(redis)
        limit = _limit(concurrency=2)
        first = await a.acquire([limit], 1)
        await b.acquire([limit], 1)
        with pytest.raises(ConcurrencyLimitExceededError):
            await a.acquire([limit], 1)
        first.finish(1)
        await a.flush()
        await b.acquire([limit], 1)

    async def test_tokens_per_minute_include_the_other_processs_requests(
        self, redis: SharedRedis
    ) -> None:
        a, b = RedisRateLimiter(redis), RedisRateLimiter(redis)
        limit = _limit(tpm=100)
        await a.acquire([limit], 60)
        with pytest.raises(RateLimitExceededError):
            await b.acquire([limit], 60)
        await b.acquire([limit], 40)

    async def test_an_outage_refuses_with_hold_store_unavailable(self) -> None:
        down = open_redis(f"redis://127.0.0.1:{free_port()}/0", "spectra-test:down:")
        try:
            with pytest.raises(SpectraError) as caught:
                await RedisRateLimiter(down).acquire([_limit(rpm=5)], 1)
            assert caught.value.code == "hold_store_unavailable"
            # Without limits there is nothing to count, so nothing to refuse.
            await RedisRateLimiter(down).acquire([_limit()], 1)
        finally:
            await down.close()


class TestRedisAffinity:
    async def test_a_session_bound_in_one_process_is_recalled_in_another(
        self, redis: SharedRedis
    ) -> None:
        account = uuid.uuid4()
        await RedisAffinity(redis, timedelta(minutes=5)).remember("conv-1", account)
        other = RedisAffinity(redis, timedelta(minutes=5))
        assert await other.recall("conv-1") == account
        assert await other.recall("conv-2") is None

    async def test_an_outage_recalls_nothing_and_remembers_silently(self) -> None:
        down = open_redis(f"redis://127.0.0.1:{free_port()}/0", "spectra-test:down:")
        try:
            affinity = RedisAffinity(down, timedelta(minutes=5))
            await affinity.remember("conv-1", uuid.uuid4())
            assert await affinity.recall("conv-1") is None
        finally:
            await down.close()
