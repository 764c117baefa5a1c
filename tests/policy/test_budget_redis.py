"""The Redis budget counters on the machine's Redis (a fresh key prefix per test) and the test
database: the atomic check-and-add across two stores standing for two processes, settle and
release, the cold start that rebuilds a counter from the usage records, and an outage (a
private redis-server paused for writes): checks fail closed, a settlement is replayed once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from tests.console.factories import make_usage
from tests.factories import make_user
from tests.support.redis import new_prefix, private_redis, shared_redis

from spectra.db.redis import SharedRedis, open_redis
from spectra.db.session import session_scope
from spectra.kit.clock import utc_now
from spectra.ledger.errors import HoldStoreUnavailableError
from spectra.policy.budget_counters import BudgetCheck
from spectra.policy.budget_redis import RedisBudgetCounters
from spectra.runtime import Runtime

KEY = uuid.uuid4()
PROJECT = uuid.uuid4()
BUDGET = 1_000_000


@pytest_asyncio.fixture
async def shared() -> AsyncIterator[SharedRedis]:
    async with shared_redis() as s:
        yield s


def _check(allowed: int = BUDGET) -> BudgetCheck:
    return BudgetCheck("key", KEY, "day", allowed)


async def test_two_stores_cannot_both_take_the_last_room(
    runtime: Runtime, shared: SharedRedis
) -> None:
    a = RedisBudgetCounters(runtime.db, shared)
    b = RedisBudgetCounters(runtime.db, shared)  # another process: its own memory, same Redis
    now = utc_now()
    assert await a.reserve_within("r0", [_check()], (KEY,), 700_000, now) is None
    # 300,000 left: ten concurrent asks of 100,000 from both "processes": exactly three fit.
    asks = [
        (a if i % 2 else b).reserve_within(f"r{i + 1}", [_check()], (KEY,), 100_000, now)
        for i in range(10)
    ]
    results = await asyncio.gather(*asks)
    assert sum(r is None for r in results) == 3
    refused = [r for r in results if r is not None]
    assert {(r.index, r.spent_micros) for r in refused} == {(0, 0)}
    assert {r.pending_micros for r in refused} == {1_000_000}


async def test_settle_turns_the_reservation_into_spend_and_release_drops_it(
    runtime: Runtime, shared: SharedRedis
) -> None:
    a = RedisBudgetCounters(runtime.db, shared)
    b = RedisBudgetCounters(runtime.db, shared)
    now = utc_now()
    assert await a.reserve_within("r1", [_check()], (KEY,), 600_000, now) is None
    assert await a.reserve_within("r2", [_check()], (KEY,), 300_000, now) is None
    a.settle("r1", (KEY,), 600_000, key_id=KEY, project_id=None, micros=450_000, at=now)
    await a.flush()
    # The same settlement again (a replay after a timeout that had reached Redis): counted once.
    a.settle("r1", (KEY,), 600_000, key_id=KEY, project_id=None, micros=450_000, at=now)
    await a.release("r2", (KEY,), 300_000)
    await a.flush()
    # b sees a's settled cost and no reservation: 550,000 fit, 550,001 would not.
    refused = await b.reserve_within("r3", [_check()], (KEY,), 550_001, now)
    assert refused is not None
    assert (refused.spent_micros, refused.pending_micros) == (450_000, 0)
    assert await b.reserve_within("r4", [_check()], (KEY,), 550_000, now) is None
    assert b.key_spent(KEY, now)["day"] == 450_000  # the shared total, in b's memory


async def test_a_cold_counter_is_rebuilt_from_the_usage_records(
    runtime: Runtime, shared: SharedRedis
) -> None:
    async with session_scope(runtime.db) as session:
        user = await make_user(session)
        await make_usage(
            session, user_id=user.id, key_id=KEY, project_id=PROJECT, cost_micros=800_000
        )
    counters = RedisBudgetCounters(runtime.db, shared)
    now = utc_now()
    project = BudgetCheck("project", PROJECT, "month", BUDGET)
    refused = await counters.reserve_within("r1", [_check(), project], (KEY,), 200_001, now)
    assert refused is not None
    assert (refused.index, refused.spent_micros) == (0, 800_000)
    assert await counters.reserve_within("r2", [_check(), project], (KEY,), 200_000, now) is None
    assert counters.project_spent(PROJECT, now) == 800_000
    # Redis forgets (restart): the next check rebuilds the counter from the records again.
    start = str(int(counters.starts(now)["day"].timestamp()))
    assert await shared.client.delete(shared.key("bud", "s", "day", start, str(KEY))) == 1
    refused = await counters.reserve_within("r3", [_check()], (KEY,), 1, now)
    assert refused is not None
    assert (refused.spent_micros, refused.pending_micros) == (800_000, 200_000)


async def test_an_outage_fails_closed_and_the_missed_settlement_is_replayed_once(
    runtime: Runtime, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as server:
        shared = open_redis(server.url, new_prefix())
        admin = aioredis.Redis.from_url(server.url)
        try:
            counters = RedisBudgetCounters(runtime.db, shared)
            now = utc_now()
            assert await counters.reserve_within("r1", [_check()], (KEY,), 600_000, now) is None
            await admin.client_pause(30_000, all=False)  # writes (and scripts) wait
            with pytest.raises(HoldStoreUnavailableError):
                await counters.reserve_within("r2", [_check()], (KEY,), 1, now)
            counters.settle(
                "r1", (KEY,), 600_000, key_id=KEY, project_id=None, micros=500_000, at=now
            )
            await counters.flush()
            await admin.client_unpause()
            # The replay runs first: the cost counts once, the reservation is gone.
            refused = await counters.reserve_within("r3", [_check()], (KEY,), 500_001, now)
            assert refused is not None
            assert (refused.spent_micros, refused.pending_micros) == (500_000, 0)
            assert await counters.reserve_within("r4", [_check()], (KEY,), 500_000, now) is None
        finally:
            await admin.aclose()
            await shared.close()
