"""The in-memory pool in a running process: loaded at start, refreshed through the change
feed within a second, hot-path transitions persisted through the group committer, jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from tests.fakes.upstream import FakeUpstream

from spectra.audit.actor import Actor
from spectra.db.session import read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.pool import jobs
from spectra.pool import service as pool_service
from spectra.pool import wiring as pool_wiring
from spectra.pool.models import PoolAccount, PoolAccountDailyFigures, PoolAccountTransition
from spectra.pool.scheduler import Succeeded
from spectra.pool.schemas import AccountUpdate
from spectra.pool.states import AccountState
from spectra.providers.errors import FailureType, UpstreamFailure
from spectra.runtime import Runtime

from .factories import make_account


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, deadline: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert loop.time() < end, "condition not met before the deadline"
        await asyncio.sleep(0.02)


async def _add(runtime: Runtime, admin: Actor, **overrides: object) -> uuid.UUID:
    async with session_scope(runtime.db) as session:
        return (await make_account(session, admin, **overrides)).id


async def test_an_admin_change_reaches_memory_within_a_second(
    runtime: Runtime, admin: Actor
) -> None:
    pool = pool_wiring.current()
    account_id = await _add(runtime, admin, weight=10)
    await eventually(lambda: account_id in pool.state.accounts, deadline=1.0)
    async with session_scope(runtime.db) as session:
        await pool_service.update_account(
            session, admin, account_id=account_id, data=AccountUpdate(weight=77)
        )
        await pool_service.disable_account(
            session, admin, account_id=account_id, reason="maintenance"
        )
    await eventually(
        lambda: pool.state.accounts[account_id].snapshot.state is AccountState.DISABLED,
        deadline=1.0,
    )
    assert pool.state.accounts[account_id].config.weight == 77


async def test_a_change_made_elsewhere_arrives_by_polling(runtime: Runtime, admin: Actor) -> None:
    """A write that does not kick this process's feed (another process, the CLI) arrives by the poll."""
    pool = pool_wiring.current()
    account_id = await _add(runtime, admin)
    await eventually(lambda: account_id in pool.state.accounts)
    async with session_scope(runtime.db) as session:
        session.info["after_commit"] = []
        await pool_service.disable_account(session, admin, account_id=account_id)
        session.info["after_commit"] = []
    await eventually(
        lambda: pool.state.accounts[account_id].snapshot.state is AccountState.DISABLED,
        deadline=1.5,
    )


async def test_loaded_at_start(runtime: Runtime, admin: Actor) -> None:
    account_id = await _add(runtime, admin)
    pool = pool_wiring.current()
    pool.state.accounts.clear()
    await pool.start()
    assert account_id in pool.state.accounts
    assert pool.state.accounts[account_id].config.credential.reveal().startswith("sk-fake")


async def test_hot_path_transition_is_persisted_and_an_older_one_never_undoes_an_admin(
    runtime: Runtime, admin: Actor
) -> None:
    pool = pool_wiring.current()
    scheduler = pool_wiring.scheduler()
    account_id = await _add(runtime, admin)
    await eventually(lambda: account_id in pool.state.accounts)
    selection = scheduler.select("anthropic_messages", "claude-x", None, None)
    scheduler.release(selection)
    scheduler.report(selection, UpstreamFailure(FailureType.AUTH_FAILED, "401", status=401))
    assert pool.state.accounts[account_id].snapshot.state is AccountState.NEEDS_ATTENTION
    await runtime.committer.flush()

    async def stored() -> bool:
        async with read_scope(runtime.db) as session:
            row = (
                await session.execute(select(PoolAccount).where(PoolAccount.id == account_id))
            ).scalar_one()
            return row.state == "needs_attention"

    await eventually(stored)
    async with session_scope(runtime.db) as session:
        await pool_service.reset_account_state(session, admin, account_id=account_id)
    await eventually(
        lambda: pool.state.accounts[account_id].snapshot.state is AccountState.ACTIVE, deadline=1.0
    )
    async with read_scope(runtime.db) as reader:
        rows = (
            (
                await reader.execute(
                    select(PoolAccountTransition)
                    .where(PoolAccountTransition.account_id == account_id)
                    .order_by(PoolAccountTransition.id)
                )
            )
            .scalars()
            .all()
        )
        seen = [(r.to_state, r.actor_label) for r in rows]
    assert seen == [("needs_attention", "gateway"), ("active", admin.label)]


async def test_figures_job_persists_a_daily_row_and_start_reloads_it(
    runtime: Runtime, admin: Actor
) -> None:
    pool = pool_wiring.current()
    scheduler = pool_wiring.scheduler()
    account_id = await _add(runtime, admin)
    await eventually(lambda: account_id in pool.state.accounts)
    selection = scheduler.select("anthropic_messages", "claude-x", None, None)
    scheduler.report(
        selection, Succeeded(latency_ms=100.0, input_tokens=50, output_tokens=10, cost_micros=2_500)
    )
    scheduler.release(selection)
    assert await jobs.persist_figures(runtime.db, pool.state) == 1
    async with read_scope(runtime.db) as session:
        row = (await session.execute(select(PoolAccountDailyFigures))).scalar_one()
        assert (row.requests, row.successes, row.input_tokens, row.cost_micros) == (1, 1, 50, 2_500)
    pool.state.accounts.clear()
    await pool.start()
    assert pool.state.accounts[account_id].figures.cost_today_micros == 2_500


async def test_probe_job_heals_a_failing_account(
    runtime: Runtime, admin: Actor, fake: FakeUpstream
) -> None:
    pool = pool_wiring.current()
    account_id = await _add(runtime, admin, base_url=fake.url)
    await eventually(lambda: account_id in pool.state.accounts)
    scheduler = pool_wiring.scheduler()
    for _ in range(3):
        selection = scheduler.select("anthropic_messages", "claude-x", None, None)
        scheduler.release(selection)
        scheduler.report(selection, UpstreamFailure(FailureType.SERVER_ERROR, "500", status=500))
    assert pool.state.accounts[account_id].snapshot.state is AccountState.FAILING
    await runtime.committer.flush()
    results = await jobs.run_probes(runtime.db, pool.state, pool.client)
    assert results[account_id].ok
    await runtime.committer.flush()
    assert pool.state.accounts[account_id].snapshot.state is AccountState.ACTIVE
    async with read_scope(runtime.db) as session:
        row = (
            await session.execute(select(PoolAccount).where(PoolAccount.id == account_id))
        ).scalar_one()
        assert (row.state, row.last_probe_outcome) == ("active", "ok")
        history = (
            await session.execute(
                select(PoolAccountTransition.to_state, PoolAccountTransition.actor_label)
                .where(PoolAccountTransition.account_id == account_id)
                .order_by(PoolAccountTransition.id)
            )
        ).all()
        assert [tuple(h) for h in history] == [("failing", "gateway"), ("active", "system")]


async def test_figures_job_writes_every_account_when_one_has_absurd_figures(
    runtime: Runtime, admin: Actor
) -> None:
    # Usage is clamped at settlement; a figure a column cannot hold must still not fail the job
    # for every account (before: one transaction, an OverflowError, every minute, for all).
    pool = pool_wiring.current()
    bad = await _add(runtime, admin, name="bad-upstream")
    good = await _add(runtime, admin, name="good-upstream")
    await eventually(lambda: {bad, good} <= set(pool.state.accounts))
    for account_id, tokens in ((bad, 10**30), (good, 50)):
        figures = pool.state.accounts[account_id].figures
        figures.started(utc_now())
        figures.add_usage(utc_now(), input_tokens=tokens, output_tokens=1, cost_micros=7)
    assert await jobs.persist_figures(runtime.db, pool.state) == 2
    async with read_scope(runtime.db) as session:
        rows = {
            r.account_id: r
            for r in (await session.execute(select(PoolAccountDailyFigures))).scalars()
        }
    assert rows[good].input_tokens == 50
    assert rows[bad].input_tokens == 2**63 - 1
