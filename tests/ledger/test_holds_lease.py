"""Leases (holds_lease.py) tried against what could break them: two processes spending one
wallet at once never charge more than the balance plus the overspend bound's excesses, a dead
process's lease returns to the wallet after its expiry, a wallet at zero (or too small to lease)
refuses at once, and what a process leased goes back when it stops. Real Redis, real database."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta

from tests.support.redis import REDIS_URL, shared_redis

from spectra.audit.actor import GATEWAY
from spectra.db.redis import open_redis
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import InsufficientFundsError
from spectra.ledger.holds import LedgerTransactionSpec
from spectra.ledger.holds_lease import (
    HINT_SECONDS,
    LEASE_SECONDS,
    LEASE_SHARE,
    LeasedBalanceView,
)
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
        if amount:
            await fund(s, account, amount)
    return account


async def _write(runtime: Runtime, view: LeasedBalanceView, spec: LedgerTransactionSpec) -> None:
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        await ledger_service.post_spec(session, GATEWAY, spec)

    await runtime.committer.submit(work)
    await view.written(spec)


async def _balance(runtime: Runtime, account: LedgerAccount) -> int:
    async with session_scope(runtime.db) as s:
        return (await ledger_service.get_balances(s, [account.id]))[account.id]


class TestTwoProcesses:
    async def test_spending_one_wallet_at_once_stays_within_the_bound(
        self, runtime: Runtime
    ) -> None:
        balance = 1_000_000
        wallet = await _wallet(runtime, balance)
        rng = random.Random(21)
        async with shared_redis() as shared:
            other = open_redis(REDIS_URL, shared.prefix)  # a second client: another process
            views = [LeasedBalanceView(runtime.db, shared), LeasedBalanceView(runtime.db, other)]
            for view in views:
                await view.start()
            excess = 0
            served = 0
            leased_seen = False
            try:

                async def request(i: int) -> None:
                    nonlocal excess, served, leased_seen
                    view = views[i % 2]
                    try:
                        hold = await view.reserve(
                            f"r{i}", [(wallet.id, None)], amount=10_000, expires_in=MINUTE
                        )
                    except InsufficientFundsError:
                        return
                    leased_seen = leased_seen or bool(view.leased)
                    await asyncio.sleep(rng.random() / 200)
                    cost = rng.choice([0, 3_000, 10_000, 14_000])  # below, at and above the hold
                    excess += max(0, cost - hold.amount)
                    spec = await view.settle(hold, cost)
                    served += 1
                    if spec is not None:
                        await _write(runtime, view, spec)

                for round_ in range(6):
                    await asyncio.gather(*(request(round_ * 64 + i) for i in range(64)))
                left = await _balance(runtime, wallet)
                assert leased_seen  # the requests were served from leases
                assert served > 64
                # What was charged never exceeds the balance plus the settlements' excesses.
                assert left >= -excess
                # Nothing held is lost: once every lease is back, the view agrees with the ledger.
                for view in views:
                    await view.stop()
                    await view.refresh([wallet.id])
                assert await views[0].available(wallet.id) == left
                async with session_scope(runtime.db) as s:
                    assert (await verify_ledger(s)).ok
            finally:
                for view in views:
                    await view.stop()
                await other.close()

    async def test_holds_never_exceed_the_balance_across_two_processes(
        self, runtime: Runtime
    ) -> None:
        wallet = await _wallet(runtime, 1_000_000)
        async with shared_redis() as shared:
            other = open_redis(REDIS_URL, shared.prefix)
            views = [LeasedBalanceView(runtime.db, shared), LeasedBalanceView(runtime.db, other)]
            for view in views:
                await view.start()
            try:

                async def request(i: int) -> bool:
                    try:
                        await views[i % 2].reserve(
                            f"r{i}", [(wallet.id, None)], amount=10_000, expires_in=MINUTE
                        )
                    except InsufficientFundsError:
                        return False
                    return True

                results = await asyncio.gather(*(request(i) for i in range(300)))
                # Every micro is reachable from either process (a short lease is given back
                # before a hold in Redis), and never more than the balance is held.
                assert results.count(True) == 100
            finally:
                for view in views:
                    await view.stop()
                await other.close()


class TestCrash:
    async def test_a_dead_processes_lease_returns_to_the_wallet_after_its_expiry(
        self, runtime: Runtime, clock: object
    ) -> None:
        wallet = await _wallet(runtime, 1_000_000)
        async with shared_redis() as shared:
            dead, survivor = (
                LeasedBalanceView(runtime.db, shared),
                LeasedBalanceView(runtime.db, shared),
            )
            await dead.start()
            await survivor.start()
            try:
                hold = await dead.reserve(
                    "r", [(wallet.id, None)], amount=10_000, expires_in=MINUTE
                )
                spec = await dead.settle(hold, 4_000)
                assert spec is not None
                await _write(runtime, dead, spec)
                leased = dead.leased[wallet.id]
                assert 0 < leased <= 1_000_000 // LEASE_SHARE
                dead.crash()  # kill -9: the lease stays in Redis, nobody renews it
                assert await survivor.available(wallet.id) == 996_000 - leased
                assert await survivor.release_expired() == 0
                clock_module.advance(timedelta(seconds=LEASE_SECONDS + 1))
                assert await survivor.release_expired() == 1
                # The unspent part is back; what was spent stays charged, exactly once.
                assert await survivor.available(wallet.id) == 996_000
                assert await _balance(runtime, wallet) == 996_000
            finally:
                await survivor.stop()


class TestNearZero:
    async def test_a_wallet_at_zero_refuses_at_once(self, runtime: Runtime) -> None:
        wallet = await _wallet(runtime, 0)
        async with shared_redis() as shared:
            view = LeasedBalanceView(runtime.db, shared)
            await view.start()
            try:
                assert await view.available(wallet.id) == 0
                try:
                    await view.reserve("r", [(wallet.id, None)], amount=1, expires_in=MINUTE)
                except InsufficientFundsError:
                    pass
                else:
                    raise AssertionError("a hold on an empty wallet was granted")
                assert view.leased == {}
            finally:
                await view.stop()

    async def test_a_small_balance_is_never_leased_and_is_spent_exactly(
        self, runtime: Runtime
    ) -> None:
        wallet = await _wallet(runtime, 1_000)
        async with shared_redis() as shared:
            view = LeasedBalanceView(runtime.db, shared)
            await view.start()
            try:
                holds = [
                    await view.reserve(f"r{i}", [(wallet.id, None)], amount=300, expires_in=MINUTE)
                    for i in range(3)
                ]
                assert view.leased == {}  # a quarter of 1,000 does not cover 300: held in Redis
                try:
                    await view.reserve("r4", [(wallet.id, None)], amount=300, expires_in=MINUTE)
                except InsufficientFundsError:
                    pass
                else:
                    raise AssertionError("held more than the balance")
                for hold in holds:
                    await view.release(hold)
                assert await view.available(wallet.id) == 1_000
            finally:
                await view.stop()

    async def test_stopping_gives_the_leases_back(self, runtime: Runtime) -> None:
        wallet = await _wallet(runtime, 1_000_000)
        async with shared_redis() as shared:
            view, other = (
                LeasedBalanceView(runtime.db, shared),
                LeasedBalanceView(runtime.db, shared),
            )
            await view.start()
            await other.start()
            try:
                hold = await view.reserve(
                    "r", [(wallet.id, None)], amount=10_000, expires_in=MINUTE
                )
                assert view.leased
                assert await other.available(wallet.id) < 1_000_000 - 10_000
                await view.release(hold)
                await view.stop()
                # Another process reads Redis again once its figure is HINT_SECONDS old.
                await asyncio.sleep(HINT_SECONDS + 0.1)
                assert await other.available(wallet.id) == 1_000_000
            finally:
                await view.stop()
                await other.stop()
