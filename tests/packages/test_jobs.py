"""The renewal job on real commits: registered at start-up, idempotent under re-runs and when
two schedulers run it at once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select
from tests.factories import make_user

from spectra.db.session import session_scope
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerTransaction
from spectra.packages import jobs
from spectra.packages import service as packages_service
from spectra.runtime import Runtime

from .factories import OWNER, UNIT, make_package


async def _grants(runtime: Runtime) -> int:
    async with session_scope(runtime.db) as session:
        stmt = (
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "grant")
        )
        return int((await session.execute(stmt)).scalar_one())


async def _setup(runtime: Runtime, users: int) -> list[packages_service.AssignmentDetail]:
    async with session_scope(runtime.db) as session:
        await make_package(session, name="Daily", allowance="2", period="daily")
        out = []
        for _ in range(users):
            user = await make_user(session)
            out.append(
                await packages_service.assign_package(
                    session, OWNER, package="Daily", user_id=user.id
                )
            )
        return out


class TestRunRenewals:
    async def test_the_job_is_registered_at_start_up(self, runtime: Runtime) -> None:
        assert jobs.JOB_NAME in [job.name for job in runtime.jobs.jobs]

    async def test_rerunning_the_job_grants_once_per_period(
        self, runtime: Runtime, clock: datetime
    ) -> None:
        held = await _setup(runtime, 3)
        assert await _grants(runtime) == 3
        clock_module.advance(timedelta(days=1))
        assert await jobs.run_renewals(runtime.db) == 3
        assert await jobs.run_renewals(runtime.db) == 0
        assert await _grants(runtime) == 6
        async with session_scope(runtime.db) as session:
            for h in held:
                assert (
                    await ledger_service.balance(session, h.assignment.allowance_account_id)
                    == 2 * UNIT
                )

    async def test_two_schedulers_at_once_never_grant_twice(
        self, runtime: Runtime, clock: datetime
    ) -> None:
        held = await _setup(runtime, 4)
        clock_module.advance(timedelta(days=2))
        await asyncio.gather(jobs.run_renewals(runtime.db), jobs.run_renewals(runtime.db))
        assert await _grants(runtime) == 4 * 3
        async with session_scope(runtime.db) as session:
            for h in held:
                assert (
                    await ledger_service.balance(session, h.assignment.allowance_account_id)
                    == 2 * UNIT
                )
            assert (await ledger_service.verify(session, OWNER)).ok
