"""The sign-in throttle in Redis: the same rule as in process, counted once across processes
(two throttles on one Redis prefix stand for two serving processes), and an outage falls back
to the process's own counts instead of refusing every sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from tests.factories import make_user
from tests.support.redis import free_port, shared_redis

from spectra.db.redis import SharedRedis, open_redis
from spectra.db.session import Session
from spectra.errors import SpectraError
from spectra.users import passwords, throttle
from spectra.users import service as users_service
from spectra.users.throttle import (
    LOCK_SECONDS,
    MAX_FAILURES_PER_EMAIL_AND_IP,
    MAX_FAILURES_PER_IP,
    RedisSignInThrottle,
)

from .factories import PASSWORD, last_audit


@pytest.fixture
async def redis() -> AsyncIterator[SharedRedis]:
    async with shared_redis() as shared:
        yield shared


@pytest.fixture
def in_redis(redis: SharedRedis) -> Iterator[RedisSignInThrottle]:
    """Authentication uses a Redis throttle, as in a serving process with SPECTRA_REDIS_URL."""
    chosen = RedisSignInThrottle(redis)
    throttle.use(chosen)
    yield chosen
    throttle.use(None)


async def _fail(email: str, ip: str | None, throttles: list[RedisSignInThrottle], n: int) -> None:
    for i in range(n):
        await throttles[i % len(throttles)].record_failure(email=email, ip=ip)


class TestRedisSignInThrottle:
    async def test_failures_through_two_processes_lock_the_email_for_both(
        self, redis: SharedRedis
    ) -> None:
        a, b = RedisSignInThrottle(redis), RedisSignInThrottle(redis)
        await _fail("x@example.com", None, [a, b], MAX_FAILURES_PER_EMAIL_AND_IP - 1)
        assert await a.locked_for(email="x@example.com", ip=None) is None
        await _fail("x@example.com", None, [b], 1)
        for seen in (a, b):
            locked = await seen.locked_for(email="x@example.com", ip=None)
            assert locked is not None
            scope, seconds = locked
            assert scope == "email_ip"
            assert 0 < seconds <= LOCK_SECONDS
        assert await a.locked_for(email="other@example.com", ip=None) is None

    async def test_an_ip_is_locked_across_emails(self, redis: SharedRedis) -> None:
        a, b = RedisSignInThrottle(redis), RedisSignInThrottle(redis)
        for n in range(MAX_FAILURES_PER_IP):
            await (a, b)[n % 2].record_failure(email=f"spray{n}@example.com", ip="203.0.113.9")
        locked = await b.locked_for(email="victim@example.com", ip="203.0.113.9")
        assert locked is not None
        assert locked[0] == "ip"
        assert await b.locked_for(email="victim@example.com", ip="198.51.100.1") is None

    async def test_a_success_clears_the_emails_count(self, redis: SharedRedis) -> None:
        a, b = RedisSignInThrottle(redis), RedisSignInThrottle(redis)
        await _fail("y@example.com", None, [a], MAX_FAILURES_PER_EMAIL_AND_IP - 1)
        await b.record_success(email="y@example.com", ip=None)
        await _fail("y@example.com", None, [a], MAX_FAILURES_PER_EMAIL_AND_IP - 1)
        assert await a.locked_for(email="y@example.com", ip=None) is None

    async def test_an_outage_falls_back_to_the_processs_own_counts(self) -> None:
        down = open_redis(f"redis://127.0.0.1:{free_port()}/0", "spectra-test:down:")
        try:
            gone = RedisSignInThrottle(down)
            await _fail("z@example.com", None, [gone], MAX_FAILURES_PER_EMAIL_AND_IP)
            locked = await gone.locked_for(email="z@example.com", ip=None)
            assert locked is not None
            assert locked[0] == "email_ip"
        finally:
            await down.close()


class TestAuthenticateWithRedis:
    async def test_locks_an_email_after_repeated_failures(
        self, session: Session, in_redis: RedisSignInThrottle
    ) -> None:
        await make_user(
            session, email="lockr@example.com", password_hash=passwords.hash_password(PASSWORD)
        )
        for _ in range(MAX_FAILURES_PER_EMAIL_AND_IP):
            with pytest.raises(SpectraError):
                await users_service.authenticate_password(
                    session, email="lockr@example.com", password="bad password!", ip=None
                )
        with pytest.raises(SpectraError) as caught:
            await users_service.authenticate_password(
                session, email="lockr@example.com", password=PASSWORD, ip=None
            )
        assert caught.value.code == "sign_in_locked"
        assert "try again in 15 minutes" in caught.value.message
        # Another process sharing the Redis sees the same lock.
        assert await RedisSignInThrottle(in_redis.redis).locked_for(
            email="lockr@example.com", ip=None
        )

    async def test_an_attacker_elsewhere_locks_only_their_address_and_the_owner_is_told(
        self, session: Session, in_redis: RedisSignInThrottle
    ) -> None:
        await make_user(
            session,
            email="bossr@example.com",
            role="owner",
            password_hash=passwords.hash_password(PASSWORD),
        )
        for _ in range(MAX_FAILURES_PER_EMAIL_AND_IP):
            with pytest.raises(SpectraError):
                await users_service.authenticate_password(
                    session, email="bossr@example.com", password="bad password!", ip="203.0.113.9"
                )
        other_process = RedisSignInThrottle(in_redis.redis)
        assert await other_process.locked_for(email="bossr@example.com", ip="203.0.113.9")
        assert await other_process.locked_for(email="bossr@example.com", ip="198.51.100.1") is None
        throttle.use(other_process)
        await users_service.sign_in(
            session, email="bossr@example.com", password=PASSWORD, client_ip="198.51.100.1"
        )
        event = await last_audit(session, "auth.sign_in_locked")
        assert event.details is not None
        assert event.details["lockouts"][0]["ip"] == "203.0.113.9"
