"""Redis: the hot-path state several processes share (holds, rate-limit counters, session
affinity) when `SPECTRA_REDIS_URL` is set. PostgreSQL stays the source of truth; Redis only
holds what can be rebuilt from it or safely lost (see docs/operations.md, "Redis outage").

`SharedRedis` pairs a client with a key prefix; `REDIS_DOWN` is the one tuple of exceptions that
means "Redis cannot answer now" (callers fail closed or degrade, never guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
"""Exceptions that mean Redis is unreachable (down, restarting, loading, timed out)."""

SOCKET_TIMEOUT = 1.0
"""Seconds before a Redis call counts as failed: short, so a request fails closed quickly."""

MAX_CONNECTIONS = 256
"""Connections per process. More concurrent calls than this WAIT for a free connection (up to
POOL_WAIT): redis-py's default pool instead fails at once with "Too many connections" past
100, which under a few hundred concurrent requests made a healthy Redis look down."""

POOL_WAIT = 5.0
"""Seconds a call waits for a free connection when all are busy (a burst of new connections on
a loaded host can take more than SOCKET_TIMEOUT); an unreachable Redis still fails at once."""


@dataclass(frozen=True)
class SharedRedis:
    """A Redis client and the prefix every key this process writes starts with."""

    client: aioredis.Redis
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except REDIS_DOWN:
            return False

    async def close(self) -> None:
        await self.client.aclose()


def lua_script(package: str, *names: str) -> str:
    """The Lua source of a Redis script: `<package>/lua/<name>.lua` for each name, joined in order
    (a shared function file first, then the script that calls it). Package data, so a wheel has it."""
    folder = resources.files(package).joinpath("lua")
    return "".join(folder.joinpath(f"{name}.lua").read_text(encoding="utf-8") for name in names)


def open_redis(url: str, prefix: str = "spectra:") -> SharedRedis:
    """A client for `url` with short timeouts and one quick retry (no backoff)."""
    if any(ch in prefix for ch in "|=\n"):
        raise ValueError("The Redis key prefix may not contain '|', '=' or newlines.")
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=10,
        decode_responses=True,
    )
    return SharedRedis(client=aioredis.Redis.from_pool(pool), prefix=prefix)
