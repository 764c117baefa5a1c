"""Cross-process cache invalidation: how long after a commit another process learns of it,
through the change feed (what Spectra uses) and through Redis pub/sub (the candidate speed-up),
and what the feed's polling costs. docs/operations.md records the result and the decision.

    PYTHONPATH=. .venv/bin/python -m bench.invalidation [--samples 40]

Needs PostgreSQL (BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres; a scratch
database is created and dropped) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/0).
The writer commits change rows with plain SQL, as another process would: the reader's feed is
not kicked, so it learns of them only by polling (the writer's own process is kicked at once).
Writes are spaced randomly so they land at every phase of the poll interval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid

import redis.asyncio as aioredis
from sqlalchemy import insert, select

from bench.loadgen import percentile
from bench.run import PG_BASE, REDIS_BASE, drop_pg, scratch_pg
from spectra.db import migrate
from spectra.db.changes import Change, ChangeFeed
from spectra.db.models import ChangeFeedEntry
from spectra.db.session import open_database, read_scope, session_scope
from spectra.kit.clock import utc_now

KIND = "bench.invalidate"


async def feed_delays(url: str, samples: int, interval: float) -> tuple[list[float], float]:
    """(delays in ms from commit to the reader's listener, mean ms of one empty poll)."""
    writer, reader = open_database(url), open_database(url)
    feed = ChangeFeed(reader, interval=interval)
    committed: dict[str, float] = {}
    delays: list[float] = []
    done = asyncio.Event()

    async def listener(changes: list[Change]) -> None:
        now = time.perf_counter()
        for change in changes:
            if change.entity_id in committed:
                delays.append((now - committed.pop(change.entity_id)) * 1000)
        if len(delays) >= samples:
            done.set()

    feed.subscribe(KIND, listener)
    try:
        async with read_scope(reader) as first:  # connect both pools before timing
            await first.execute(select(1))
        async with session_scope(writer) as second:
            await second.execute(select(1))
        await feed.start()
        for _ in range(samples):
            await asyncio.sleep(random.uniform(0.05, 0.25))
            token = uuid.uuid4().hex
            async with session_scope(writer) as session:
                await session.execute(
                    insert(ChangeFeedEntry).values(kind=KIND, entity_id=token, created_at=utc_now())
                )
            committed[token] = time.perf_counter()
        await asyncio.wait_for(done.wait(), timeout=30)
        await feed.stop()
        started = time.perf_counter()
        polls = 50
        for _ in range(polls):
            await feed.poll_once()
        poll_ms = (time.perf_counter() - started) * 1000 / polls
    finally:
        await feed.stop()
        await writer.dispose()
        await reader.dispose()
    return delays, poll_ms


async def pubsub_delays(url: str, samples: int) -> list[float]:
    """Delays in ms from PUBLISH (right after a commit would be) to the subscriber's receipt."""
    channel = f"spectra-bench:invalidate:{uuid.uuid4().hex[:8]}"
    pub = aioredis.Redis.from_url(url)
    sub = aioredis.Redis.from_url(url)
    pubsub = sub.pubsub()
    sent: dict[bytes, float] = {}
    delays: list[float] = []
    try:
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation

        async def receive() -> None:
            while len(delays) < samples:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                if msg is not None:
                    delays.append((time.perf_counter() - sent.pop(msg["data"])) * 1000)

        receiver = asyncio.ensure_future(receive())
        for _ in range(samples):
            await asyncio.sleep(random.uniform(0.05, 0.25))
            token = uuid.uuid4().hex.encode()
            sent[token] = time.perf_counter()
            await pub.publish(channel, token)
        await asyncio.wait_for(receiver, timeout=30)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await sub.aclose()
        await pub.aclose()
    return delays


def _summary(delays: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(delays, 50) or 0, 2),
        "p99_ms": round(percentile(delays, 99) or 0, 2),
        "max_ms": round(max(delays), 2),
        "mean_ms": round(statistics.mean(delays), 2),
    }


async def main_async(samples: int, interval: float) -> dict[str, object]:
    name = f"spectra_bench_invalidation_{os.getpid()}"
    url = await asyncio.to_thread(scratch_pg, name)
    try:
        await migrate.upgrade(url)
        feed, poll_ms = await feed_delays(url, samples, interval)
    finally:
        await asyncio.to_thread(drop_pg, name)
    pubsub = await pubsub_delays(REDIS_BASE, samples)
    return {
        "samples": samples,
        "poll_interval_s": interval,
        "change_feed": _summary(feed),
        "redis_pubsub": _summary(pubsub),
        "empty_poll_ms": round(poll_ms, 3),
        "load_average": os.getloadavg()[0],
        "pg": PG_BASE.rsplit("@", 1)[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5, help="feed poll interval (s)")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.samples, args.interval))
    print("BENCH_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
