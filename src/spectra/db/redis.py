"""Redis: the hot-path state several processes share (holds, rate-limit counters, session
affinity) when `SPECTRA_REDIS_URL` is set. PostgreSQL stays the source of truth; Redis only
holds what can be rebuilt from it or safely lost (see docs/operations.md, "Redis outage").

`SharedRedis` pairs a client with a key prefix; `REDIS_DOWN` is the one tuple of exceptions that
means "Redis cannot answer now" (callers fail closed or degrade, never guess).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
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


_Call = tuple[AsyncScript, list[str], list[Any], "asyncio.Future[Any]"]


@dataclass
class ScriptBatcher:
    """Runs script calls made during one turn of the event loop as ONE pipeline (one write, one
    read, one pooled connection): redis-py's fixed cost per call (pool, retry, observability
    hooks) is most of what a short script costs the client, so under concurrency N calls cost
    little more than one. Each caller awaits its own result, in the order it queued; a call's
    Redis error is raised to that caller only, a connection failure to every caller of the
    batch (they are `REDIS_DOWN` as for a direct call)."""

    client: aioredis.Redis
    _queue: list[_Call] = field(default_factory=list)
    _scheduled: bool = False
    _timer: asyncio.TimerHandle | None = None
    _sending: set[asyncio.Task[None]] = field(default_factory=set)

    def run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Queue one call; the future resolves with its result after the batch's round trip."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((script, keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def later(
        self, script: AsyncScript, keys: list[str], args: list[Any], within: float
    ) -> asyncio.Future[Any]:
        """Queue a call no one waits on: it rides in the next batch, or goes `within` seconds
        from now if no other call comes first (one pipeline instead of a round trip each)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((script, keys, args, future))
        if not self._scheduled and self._timer is None:
            self._timer = loop.call_later(within, self._flush)
        return future

    async def drain(self) -> None:
        """Send what is queued now and wait for every batch in flight (shutdown, tests)."""
        self._flush()
        if self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    def _flush(self) -> None:
        self._scheduled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._queue = self._queue, []
        if batch:
            task = asyncio.ensure_future(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        futures = [future for *_, future in batch]
        try:
            if len(batch) == 1:
                script, keys, args, _ = batch[0]
                results: list[Any] = [await script(keys=keys, args=args)]
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    for script, keys, args, _ in batch:
                        pipe.evalsha(script.sha, len(keys), *keys, *args)
                    results = await pipe.execute(raise_on_error=False)
                for i, result in enumerate(results):
                    if isinstance(result, NoScriptError):  # Redis restarted: load, run alone
                        script, keys, args, _ = batch[i]
                        results[i] = await script(keys=keys, args=args)
        except BaseException as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, result in zip(futures, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


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
