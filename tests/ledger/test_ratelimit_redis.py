"""Code-redemption limits in Redis: the same limits as in process, counted once across
processes (two limiters on one prefix stand for two serving processes), wired into
`redeem_code`, and an outage falls back to the process's own counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from tests.factories import make_user
from tests.support.redis import free_port, shared_redis

from spectra.db.redis import SharedRedis, open_redis
from spectra.db.session import Session
from spectra.ledger import ratelimit
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import CodeNotFoundError, RedeemRateLimitedError
from spectra.ledger.ratelimit import PER_IP, PER_USER, WINDOW_SECONDS, RedisRedeemLimiter

from .factories import member


@pytest.fixture
async def redis() -> AsyncIterator[SharedRedis]:
    async with shared_redis() as shared:
        yield shared


class TestRedisRedeemLimiter:
    async def test_failures_through_two_processes_share_one_user_limit(
        self, redis: SharedRedis
    ) -> None:
        a, b = RedisRedeemLimiter(redis), RedisRedeemLimiter(redis)
        user = uuid.uuid4()
        for i in range(PER_USER):
            await a.check(user_id=user, ip=None)
            await (a, b)[i % 2].failed(user_id=user, ip=None)
        for limiter in (a, b):
            with pytest.raises(RedeemRateLimitedError) as caught:
                await limiter.check(user_id=user, ip=None)
            assert 0 < caught.value.details["retry_after"] <= WINDOW_SECONDS
        await a.check(user_id=uuid.uuid4(), ip=None)

    async def test_an_ip_is_limited_across_users(self, redis: SharedRedis) -> None:
        a, b = RedisRedeemLimiter(redis), RedisRedeemLimiter(redis)
        for i in range(PER_IP):
            await (a, b)[i % 2].failed(user_id=uuid.uuid4(), ip="203.0.113.7")
        with pytest.raises(RedeemRateLimitedError):
            await b.check(user_id=uuid.uuid4(), ip="203.0.113.7")
        await b.check(user_id=uuid.uuid4(), ip="198.51.100.7")

    async def test_an_outage_falls_back_to_the_processs_own_counts(self) -> None:
        down = open_redis(f"redis://127.0.0.1:{free_port()}/0", "spectra-test:down:")
        try:
            gone = RedisRedeemLimiter(down)
            user = uuid.uuid4()
            for _ in range(PER_USER):
                await gone.failed(user_id=user, ip=None)
            with pytest.raises(RedeemRateLimitedError):
                await gone.check(user_id=user, ip=None)
        finally:
            await down.close()


async def test_redeem_code_counts_guesses_in_redis(session: Session, redis: SharedRedis) -> None:
    ratelimit.use(RedisRedeemLimiter(redis))
    try:
        user = await make_user(session)
        actor = member(user.id)
        for _ in range(PER_USER):
            with pytest.raises(CodeNotFoundError):
                await ledger_service.redeem_code(session, actor, code="SPC-AAAA-BBBB-CCCC-DDDD")
        with pytest.raises(RedeemRateLimitedError):
            await ledger_service.redeem_code(session, actor, code="SPC-AAAA-BBBB-CCCC-DDDD")
        # Another process on the same Redis refuses this user too.
        with pytest.raises(RedeemRateLimitedError):
            await RedisRedeemLimiter(redis).check(user_id=user.id, ip=None)
    finally:
        ratelimit.use(None)
