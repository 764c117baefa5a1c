"""The balance views (in-process and Redis, same tests): exact holds under concurrency, the
overspend bound, settlement through the group committer with real commits, refresh through the
change feed, the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from tests.support.redis import shared_redis

from spectra.audit.actor import GATEWAY
from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.errors import HoldNotOpenError, InsufficientFundsError
from spectra.ledger.holds import BalanceView, Hold, InProcessBalanceView, LedgerTransactionSpec
from spectra.ledger.holds_lease import LeasedBalanceView
from spectra.ledger.holds_redis import RedisBalanceView
from spectra.ledger.models import AccountKind, LedgerAccount
from spectra.ledger.verify import verify_ledger
from spectra.runtime import Runtime

from .factories import fund

MINUTE = timedelta(minutes=1)


async def _wallets(runtime: Runtime, *amounts: int) -> list[LedgerAccount]:
    out = []
    async with session_scope(runtime.db) as s:
        for amount in amounts:
            account = await ledger_service.get_or_create_account(
                s, kind=AccountKind.ALLOWANCE, owner_id=uuid.uuid4()
            )
            if amount:
                await fund(s, account, amount)
            out.append(account)
    return out


ViewFactory = Callable[[], Awaitable[BalanceView]]


@pytest.fixture(params=["memory", "redis", "leased"])
async def make_view(request: pytest.FixtureRequest, runtime: Runtime) -> AsyncIterator[ViewFactory]:
    """Builds the view under test; the Redis one gets its own key prefix, cleaned afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        views: list[BalanceView] = []

        async def make() -> BalanceView:
            view: BalanceView
            if request.param in ("redis", "leased"):
                shared = await stack.enter_async_context(shared_redis())
                kind = RedisBalanceView if request.param == "redis" else LeasedBalanceView
                view = kind(runtime.db, shared)
            else:
                view = InProcessBalanceView(runtime.db)
            await view.start()
            views.append(view)
            return view

        yield make
        for view in views:
            await view.stop()


async def _write(runtime: Runtime, view: BalanceView, spec: LedgerTransactionSpec | None) -> None:
    """What the gateway's settlement does: submit through the committer, then tell the view."""
    if spec is None:
        return

    async def work(session) -> None:  # type: ignore[no-untyped-def]
        await ledger_service.post_spec(session, GATEWAY, spec)

    await runtime.committer.submit(work)
    await view.written(spec)


async def _balances(runtime: Runtime, *accounts: LedgerAccount) -> list[int]:
    async with session_scope(runtime.db) as s:
        found = await ledger_service.get_balances(s, [a.id for a in accounts])
    return [found[a.id] for a in accounts]


class TestReserveExactness:
    async def test_fifty_concurrent_holds_of_a_tenth_grant_exactly_ten(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        (wallet,) = await _wallets(runtime, 1_000_000)
        view = await make_view()

        async def request(i: int) -> bool:
            try:
                hold = await view.reserve(
                    f"r{i}", [(wallet.id, None)], amount=100_000, expires_in=MINUTE
                )
            except InsufficientFundsError:
                return False
            await asyncio.sleep(0)
            await _write(runtime, view, await view.settle(hold, 100_000))
            return True

        results = await asyncio.gather(*(request(i) for i in range(50)))
        assert results.count(True) == 10
        assert results.count(False) == 40
        assert await _balances(runtime, wallet) == [0]
        assert await view.available(wallet.id) == 0
        async with session_scope(runtime.db) as s:
            assert (await verify_ledger(s)).ok

    async def test_a_refused_hold_reserves_nothing(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        a, b = await _wallets(runtime, 300, 200)
        view = await make_view()
        with pytest.raises(InsufficientFundsError) as info:
            await view.reserve("r", [(a.id, None), (b.id, None)], amount=600, expires_in=MINUTE)
        assert info.value.details == {"needed_micros": 600, "available_micros": 500}
        assert await view.available(a.id) == 300
        assert await view.available(b.id) == 200

    async def test_splits_the_estimate_across_sources_in_order(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        a, b, c = await _wallets(runtime, 300, 0, 1000)
        view = await make_view()
        hold = await view.reserve(
            "r", [(a.id, None), (b.id, None), (c.id, 150)], amount=400, expires_in=MINUTE
        )
        assert hold.parts == ((a.id, 300), (c.id, 100))
        with pytest.raises(InsufficientFundsError):
            await view.reserve("r2", [(c.id, 100)], amount=101, expires_in=MINUTE)


class TestSettle:
    async def test_below_the_hold_charges_in_order_and_releases_the_rest(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        a, b = await _wallets(runtime, 300, 1000)
        view = await make_view()
        hold = await view.reserve("r", [(a.id, None), (b.id, None)], amount=500, expires_in=MINUTE)
        spec = await view.settle(hold, 350)
        assert spec is not None
        assert spec.postings[:2] == ((a.id, -300), (b.id, -50))
        assert spec.postings[2][1] == 350
        assert spec.idempotency_key == f"usage:{hold.id}"
        assert await view.available(b.id) == 950
        await _write(runtime, view, spec)
        assert await _balances(runtime, a, b) == [0, 950]
        assert await view.available(a.id) == 0
        assert await view.available(b.id) == 950

    async def test_above_the_hold_takes_the_last_source_below_zero_by_at_most_the_excess(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        a, b = await _wallets(runtime, 300, 200)
        view = await make_view()
        hold = await view.reserve("r", [(a.id, None), (b.id, None)], amount=500, expires_in=MINUTE)
        spec = await view.settle(hold, 580)
        await _write(runtime, view, spec)
        assert await _balances(runtime, a, b) == [0, -80]
        assert -80 >= -(580 - 500)

    async def test_the_excess_first_uses_what_the_sources_still_have(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        a, b = await _wallets(runtime, 1000, 1000)
        view = await make_view()
        hold = await view.reserve("r", [(a.id, 100), (b.id, None)], amount=300, expires_in=MINUTE)
        assert hold.parts == ((a.id, 100), (b.id, 200))
        spec = await view.settle(hold, 450)
        await _write(runtime, view, spec)
        assert await _balances(runtime, a, b) == [1000 - 100, 1000 - 350]

    async def test_overspend_is_bounded_even_when_every_source_is_empty(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        a, b = await _wallets(runtime, 100, 100)
        view = await make_view()
        holds = [
            await view.reserve(f"r{i}", [(a.id, None), (b.id, None)], amount=100, expires_in=MINUTE)
            for i in range(2)
        ]
        excess = [30, 70]
        for hold, extra in zip(holds, excess, strict=True):
            await _write(runtime, view, await view.settle(hold, hold.amount + extra))
        balances = await _balances(runtime, a, b)
        assert sum(balances) == 200 - 200 - sum(excess)
        assert min(balances) >= -sum(excess)
        # Each hold's last (only) source absorbs that hold's own excess, no more.
        assert balances == [-30, -70]

    async def test_a_zero_cost_writes_nothing_and_settling_twice_is_refused(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        (a,) = await _wallets(runtime, 100)
        view = await make_view()
        hold = await view.reserve("r", [(a.id, None)], amount=40, expires_in=MINUTE)
        assert await view.settle(hold, 0) is None
        assert await view.available(a.id) == 100
        with pytest.raises(HoldNotOpenError):
            await view.settle(hold, 10)


class TestRelease:
    async def test_release_gives_the_hold_back_once(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        (a,) = await _wallets(runtime, 100)
        view = await make_view()
        hold = await view.reserve("r", [(a.id, None)], amount=60, expires_in=MINUTE)
        assert await view.available(a.id) == 40
        assert await view.release(hold) is True
        assert await view.release(hold) is False
        assert await view.available(a.id) == 100

    async def test_the_sweeper_releases_holds_past_their_expiry(
        self, runtime: Runtime, clock: object, make_view: ViewFactory
    ) -> None:
        (a,) = await _wallets(runtime, 100)
        view = await make_view()
        short: Hold = await view.reserve(
            "r1", [(a.id, None)], amount=30, expires_in=timedelta(seconds=30)
        )
        await view.reserve("r2", [(a.id, None)], amount=20, expires_in=timedelta(minutes=10))
        clock_module.advance(timedelta(seconds=31))
        assert await view.release_expired() == 1
        assert await view.available(a.id) == 80
        assert await view.count_open_holds() == 1
        # A late settlement of a swept hold still charges: all of it is excess, within the bound.
        spec = await view.settle(short, 30)
        assert spec is not None
        assert spec.postings[0] == (a.id, -30)


class TestRefresh:
    async def test_another_writers_change_reaches_the_view_through_the_feed(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        (a,) = await _wallets(runtime, 100)
        view = await make_view()
        runtime.feed.subscribe("ledger.balance", view.on_changes)
        hold = await view.reserve("r", [(a.id, None)], amount=60, expires_in=MINUTE)
        pending = await view.settle(hold, 50)  # settled, not yet written
        async with session_scope(runtime.db) as s:
            await fund(s, a, 1000)
        for _ in range(100):
            if await view.available(a.id) == 1100 - 50:
                break
            await asyncio.sleep(0.02)
        assert await view.available(a.id) == 1050
        await _write(runtime, view, pending)
        assert await view.available(a.id) == 1050
        await view.refresh([a.id])
        assert await view.available(a.id) == 1050
        assert await _balances(runtime, a) == [1050]

    async def test_a_refresh_that_already_sees_a_pending_settlement_counts_it_once(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        (a,) = await _wallets(runtime, 100)
        view = await make_view()
        hold = await view.reserve("r", [(a.id, None)], amount=60, expires_in=MINUTE)
        spec = await view.settle(hold, 60)
        assert spec is not None

        async def work(session) -> None:  # type: ignore[no-untyped-def]
            await ledger_service.post_spec(session, GATEWAY, spec)

        await runtime.committer.submit(work)
        await view.refresh([a.id])  # the database has it; written() has not been called yet
        assert await view.available(a.id) == 40
        await view.written(spec)
        assert await view.available(a.id) == 40


class TestPendingSettlements:
    async def test_pending_charges_count_until_written_or_discarded(
        self, runtime: Runtime, make_view: ViewFactory
    ) -> None:
        (a,) = await _wallets(runtime, 1_000)
        view = await make_view()
        specs = []
        for i in range(3):
            hold = await view.reserve(f"p{i}", [(a.id, None)], amount=100, expires_in=MINUTE)
            spec = await view.settle(hold, 100 + i)
            assert spec is not None
            specs.append(spec)
        assert await view.available(a.id) == 1_000 - 303
        await view.discard(specs[1])
        assert await view.available(a.id) == 1_000 - 202
        await view.discard(specs[1])  # idempotent
        assert await view.available(a.id) == 1_000 - 202
        for spec in (specs[0], specs[2]):

            async def work(session, spec=spec) -> None:  # type: ignore[no-untyped-def]
                await ledger_service.post_spec(session, GATEWAY, spec)

            await runtime.committer.submit(work)
            await view.written(spec)
        assert await view.available(a.id) == 1_000 - 202
        await view.refresh([a.id])
        assert await view.available(a.id) == 1_000 - 202
        assert await _balances(runtime, a) == [1_000 - 202]
