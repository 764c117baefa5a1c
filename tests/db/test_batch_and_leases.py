from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from spectra.db.batch import GroupCommitter, defer
from spectra.db.leases import JobScheduler, release, try_acquire
from spectra.db.models import ChangeFeedEntry, Lease
from spectra.db.session import Session, read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.runtime import Runtime


async def _count(runtime: Runtime, kind: str) -> int:
    async with read_scope(runtime.db) as session:
        return (
            await session.execute(select(func.count()).where(ChangeFeedEntry.kind == kind))
        ).scalar_one()


class TestGroupCommitter:
    async def test_many_submissions_commit_in_few_batches(self, runtime: Runtime) -> None:
        committer = GroupCommitter(runtime.db, max_batch=100, max_delay=0.05)
        await committer.start()

        def work(i: int):  # type: ignore[no-untyped-def]
            async def run(session: Session) -> int:
                await session.execute(
                    insert(ChangeFeedEntry).values(
                        kind="batch.test", entity_id=str(i), created_at=utc_now()
                    )
                )
                return i

            return run

        results = await asyncio.gather(*(committer.submit(work(i)) for i in range(250)))
        await committer.stop()
        assert results == list(range(250))
        assert await _count(runtime, "batch.test") == 250
        assert committer.batches < 250 / 2

    async def test_deferred_values_run_once_per_batch_before_the_commit(
        self, runtime: Runtime
    ) -> None:
        committer = GroupCommitter(runtime.db, max_batch=100, max_delay=0.05)
        await committer.start()
        calls: list[list[int]] = []

        async def write_all(session: AsyncSession, values: list[int]) -> None:
            calls.append(values)
            await session.execute(
                insert(ChangeFeedEntry),
                [
                    {"kind": "batch.deferred", "entity_id": str(v), "created_at": utc_now()}
                    for v in values
                ],
            )

        def work(i: int):  # type: ignore[no-untyped-def]
            async def run(session: Session) -> int:
                await defer(session, write_all, i)
                return i

            return run

        results = await asyncio.gather(*(committer.submit(work(i)) for i in range(20)))
        await committer.stop()
        assert results == list(range(20))
        assert sorted(v for call in calls for v in call) == list(range(20))
        assert len(calls) == committer.batches < 20  # one call per batch, not per item
        assert await _count(runtime, "batch.deferred") == 20

    async def test_defer_outside_a_batch_runs_at_once(self, runtime: Runtime) -> None:
        calls: list[list[str]] = []

        async def record(_session: AsyncSession, values: list[str]) -> None:
            calls.append(values)

        async with session_scope(runtime.db) as session:
            await defer(session, record, "now")
        assert calls == [["now"]]

    async def test_one_bad_item_fails_alone(self, runtime: Runtime) -> None:
        committer = GroupCommitter(runtime.db, max_batch=100, max_delay=0.05)
        await committer.start()
        fixed_id = 10_000_000 + uuid.uuid4().int % 1_000_000

        async def good(session: AsyncSession) -> None:
            await session.execute(
                insert(ChangeFeedEntry).values(kind="batch.good", created_at=utc_now())
            )

        async def dup(session: AsyncSession) -> None:
            await session.execute(
                insert(ChangeFeedEntry).values(id=fixed_id, kind="batch.dup", created_at=utc_now())
            )

        await committer.submit(dup)
        outcomes = await asyncio.gather(
            committer.submit(good),
            committer.submit(dup),
            committer.submit(good),
            return_exceptions=True,
        )
        await committer.stop()
        assert isinstance(outcomes[1], IntegrityError)
        assert outcomes[0] is None
        assert outcomes[2] is None
        assert await _count(runtime, "batch.good") == 2

    async def test_stop_flushes_what_is_queued(self, runtime: Runtime) -> None:
        committer = GroupCommitter(runtime.db, max_batch=10, max_delay=1.0)
        await committer.start()

        async def work(session: AsyncSession) -> None:
            await session.execute(
                insert(ChangeFeedEntry).values(kind="batch.flush", created_at=utc_now())
            )

        futures = [committer.submit_nowait(work) for _ in range(25)]
        await committer.stop()
        assert all(f.done() and f.exception() is None for f in futures)
        assert await _count(runtime, "batch.flush") == 25

    async def test_a_bounded_backlog_has_room_again_once_it_drains(self, runtime: Runtime) -> None:
        committer = GroupCommitter(runtime.db, max_batch=1, max_delay=0.0, max_queue=2)
        await committer.start()
        gate = asyncio.Event()

        async def blocked(_session: AsyncSession) -> None:
            await gate.wait()

        async def quick(_session: AsyncSession) -> None:
            return None

        first = committer.submit_nowait(blocked)
        while committer.depth:
            await asyncio.sleep(0)
        queued = [committer.submit_nowait(quick) for _ in range(2)]
        assert not committer.has_room
        assert not await committer.wait_for_room(0)
        waiter = asyncio.create_task(committer.wait_for_room(600))
        await asyncio.sleep(0)
        assert not waiter.done()
        gate.set()
        assert await waiter
        await asyncio.gather(first, *queued)
        assert committer.depth == 0
        await committer.stop()

    async def test_lag_counts_the_oldest_uncommitted_item(self, runtime: Runtime) -> None:
        committer = GroupCommitter(runtime.db, max_batch=1, max_delay=0.0)
        await committer.start()
        gate = asyncio.Event()

        async def blocked(_session: AsyncSession) -> None:
            await gate.wait()

        first = committer.submit_nowait(blocked)
        while committer.depth:
            await asyncio.sleep(0)
        second = committer.submit_nowait(blocked)
        lag = committer.last_lag
        await asyncio.sleep(0.01)
        assert committer.last_lag > lag
        gate.set()
        await asyncio.gather(first, second)
        await committer.stop()


class TestLeases:
    async def test_one_holder_at_a_time_until_release(self, runtime: Runtime) -> None:
        assert await try_acquire(runtime.db, "job:x", "host:1:a", ttl=30) is None
        other = await try_acquire(runtime.db, "job:x", "host:2:b", ttl=30)
        assert other is not None
        assert other.holder == "host:1:a"
        assert await try_acquire(runtime.db, "job:x", "host:1:a", ttl=30) is None  # renew
        await release(runtime.db, "job:x", "host:1:a")
        assert await try_acquire(runtime.db, "job:x", "host:2:b", ttl=30) is None

    async def test_an_expired_lease_can_be_taken(self, runtime: Runtime) -> None:
        assert await try_acquire(runtime.db, "job:y", "host:1:a", ttl=-1) is None
        assert await try_acquire(runtime.db, "job:y", "host:2:b", ttl=30) is None
        async with read_scope(runtime.db) as session:
            lease = (await session.execute(select(Lease).where(Lease.name == "job:y"))).scalar_one()
        assert lease.holder == "host:2:b"

    async def test_two_schedulers_never_run_the_same_job_twice(self, runtime: Runtime) -> None:
        runs: list[str] = []

        def job(tag: str):  # type: ignore[no-untyped-def]
            async def run() -> None:
                runs.append(tag)

            return run

        first, second = (
            JobScheduler(runtime.db, holder="h:1:a"),
            JobScheduler(runtime.db, holder="h:2:b"),
        )
        first.register("renewals", 60, job("first"))
        second.register("renewals", 60, job("second"))
        await asyncio.gather(first.run_due(now=0), second.run_due(now=0))
        assert len(runs) == 1


@pytest.mark.parametrize("ttl", [30])
async def test_dead_local_holder_is_replaced(runtime: Runtime, ttl: int) -> None:
    import socket

    dead = f"{socket.gethostname()}:999999:dead"
    assert await try_acquire(runtime.db, "serve", dead, ttl=ttl) is None
    assert await try_acquire(runtime.db, "serve", f"{socket.gethostname()}:1:live", ttl=ttl) is None
