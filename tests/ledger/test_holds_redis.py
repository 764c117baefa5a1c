"""The Redis balance view beyond the shared rules (test_holds.py runs those on both views):
two processes' views share one set of holds, a dead view's holds are swept by a survivor, and
an outage fails reservations closed while settlements still reach the ledger and the view
repairs itself when Redis returns."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from tests.support.redis import REDIS_URL, private_redis, shared_redis

from spectra.audit.actor import GATEWAY
from spectra.db.redis import open_redis
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import (
    HoldNotOpenError,
    HoldStoreUnavailableError,
    InsufficientFundsError,
)
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.holds_redis import RedisBalanceView
from spectra.ledger.models import AccountKind, LedgerAccount
from spectra.ledger.verify import verify_ledger
from spectra.runtime import Runtime

from .factories import fund

MINUTE = timedelta(minutes=1)


async def _wallet(runtime: Runtime, amount: int) -> LedgerAccount:
    async with session_scope(runtime.db) as s:
        account = await ledger_service.get_or_create_account(
            s, kind=AccountKind.ALLOWANCE, owner_id=uuid.uuid4()
        )
        await fund(s, account, amount)
    return account


async def _commit(runtime: Runtime, spec: LedgerTransactionSpec) -> None:
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        await ledger_service.post_spec(session, GATEWAY, spec)

    await runtime.committer.submit(work)


async def _balance(runtime: Runtime, account: LedgerAccount) -> int:
    async with session_scope(runtime.db) as s:
        return (await ledger_service.get_balances(s, [account.id]))[account.id]


class TestSharedAcrossProcesses:
    async def test_two_views_on_one_redis_never_hold_more_than_the_balance(
        self, runtime: Runtime
    ) -> None:
        wallet = await _wallet(runtime, 1_000_000)
        async with shared_redis() as shared:
            other = open_redis(REDIS_URL, shared.prefix)  # a second client: another process
            views = [RedisBalanceView(runtime.db, shared), RedisBalanceView(runtime.db, other)]
            for view in views:
                await view.start()
            try:

                async def request(i: int) -> bool:
                    try:
                        await views[i % 2].reserve(
                            f"r{i}", [(wallet.id, None)], amount=100_000, expires_in=MINUTE
                        )
                    except InsufficientFundsError:
                        return False
                    return True

                results = await asyncio.gather(*(request(i) for i in range(50)))
                assert results.count(True) == 10
                assert await views[0].count_open_holds() == 10
                assert await views[1].available(wallet.id) == 0
            finally:
                for view in views:
                    await view.stop()
                await other.close()

    async def test_a_survivor_releases_the_holds_of_a_dead_view_after_expiry(
        self, runtime: Runtime, clock: object
    ) -> None:
        wallet = await _wallet(runtime, 1000)
        async with shared_redis() as shared:
            dead, survivor = (
                RedisBalanceView(runtime.db, shared),
                RedisBalanceView(runtime.db, shared),
            )
            await dead.start()
            await survivor.start()
            try:
                await dead.reserve("r", [(wallet.id, None)], amount=700, expires_in=MINUTE)
                await dead.stop()  # the process is gone; its hold stays in Redis
                assert await survivor.available(wallet.id) == 300
                assert await survivor.release_expired() == 0
                clock_module.advance(MINUTE + timedelta(seconds=1))
                assert await survivor.release_expired() == 1
                assert await survivor.available(wallet.id) == 1000
            finally:
                await survivor.stop()


class TestOutage:
    async def test_reserve_fails_closed_settle_still_writes_and_the_view_repairs_itself(
        self, runtime: Runtime, tmp_path: Path
    ) -> None:
        wallet = await _wallet(runtime, 1000)
        with private_redis(tmp_path) as server:
            shared = open_redis(server.url, "outage:")
            view = RedisBalanceView(runtime.db, shared)
            await view.start()
            try:
                hold = await view.reserve("r1", [(wallet.id, None)], amount=300, expires_in=MINUTE)
                server.stop()
                with pytest.raises(HoldStoreUnavailableError) as info:
                    await view.reserve("r2", [(wallet.id, None)], amount=10, expires_in=MINUTE)
                assert info.value.code == "hold_store_unavailable"
                with pytest.raises(HoldStoreUnavailableError):
                    await view.available(wallet.id)
                # The settlement is not lost: the hold's part, then the excess to its last source.
                spec = await view.settle(hold, 400)
                assert spec is not None
                assert spec.charges == {wallet.id: 400}
                await _commit(runtime, spec)
                await view.written(spec)
                assert view.backlog >= 2
                assert await _balance(runtime, wallet) == 600
                server.start()  # empty: Redis restarted without persistence
                for _ in range(100):
                    if view.backlog == 0:
                        break
                    await asyncio.sleep(0.1)
                assert view.backlog == 0
                assert await view.available(wallet.id) == 600
                assert await view.count_open_holds() == 0
                async with session_scope(runtime.db) as s:
                    assert (await verify_ledger(s)).ok
            finally:
                await view.stop()
                await shared.close()


class TestMemory:
    async def test_the_local_settled_guard_is_bounded_and_redis_still_refuses_a_second_settle(
        self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("spectra.ledger.holds_redis.SETTLED_HERE_MAX", 3)
        wallet = await _wallet(runtime, 1_000_000)
        async with shared_redis() as shared:
            view = RedisBalanceView(runtime.db, shared)
            await view.start()
            try:
                holds = [
                    await view.reserve(f"m{i}", [(wallet.id, None)], amount=10, expires_in=MINUTE)
                    for i in range(6)
                ]
                for hold in holds:
                    await view.settle(hold, 5)
                assert len(view._settled_here) == 3  # one id per request: must not grow forever
                with pytest.raises(HoldNotOpenError):
                    await view.settle(holds[0], 5)  # forgotten locally, refused by Redis
            finally:
                await view.stop()
