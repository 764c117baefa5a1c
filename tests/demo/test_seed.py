"""`spectra demo`'s seeding on a fresh database: the scenarios' workspace, a month of history
through the gateway, a clean ledger, rollups and reports, and nothing doubled by a second run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from spectra.audit.actor import local_actor
from spectra.db.session import read_scope
from spectra.demo.history import plan
from spectra.demo.seed import SeedReport, seed
from spectra.demo.upstream import DemoUpstream
from spectra.demo.workspace import MEMBERS, NotADemoWorkspaceError
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerPosting, LedgerTransaction
from spectra.packages import service as packages_service
from spectra.pool import service as pool_service
from spectra.runtime import Runtime
from spectra.usage import reports
from spectra.usage.models import UsageRecord
from spectra.users import service as users_service

pytestmark = pytest.mark.slow
OWNER = "owner@spectra.local"


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[DemoUpstream]:
    async with DemoUpstream() as up:
        yield up


async def _seed(runtime: Runtime, upstream: DemoUpstream) -> SeedReport:
    return await seed(runtime, upstream_url=upstream.url, days=30, volume=0.06)


async def _count(runtime: Runtime, model: type[object]) -> int:
    async with read_scope(runtime.db) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class TestSeed:
    async def test_builds_the_scenarios_workspace(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        report = await _seed(runtime, upstream)

        me = local_actor()
        async with read_scope(runtime.db) as session:
            users = await users_service.list_users(session, me, limit=100)
            accounts = await pool_service.list_accounts(session, me)
            platform = await users_service.get_group(session, me, group="Platform")
            defaults = await packages_service.list_group_defaults(session, me)
            wallet = await ledger_service.get_wallet(session, me, group_id=platform.id)
        assert report.fresh
        assert {u.email for u in users.items} == {OWNER, *(m.email for m in MEMBERS)}
        assert sorted((a.name, a.provider, a.base_url) for a in accounts.items) == [
            ("anthropic-backup", "anthropic", upstream.url),
            ("anthropic-primary", "anthropic", upstream.url),
            ("openai-main", "openai", upstream.url),
        ]
        assert {(g.name, p.name) for g, p in defaults} == {
            ("Platform", "Power"),
            ("Mobile", "Starter"),
        }
        assert wallet is not None
        assert report.start == clock.replace(hour=0) - timedelta(days=30)
        assert clock_module.utc_now() == clock  # the replay gave the clock back

    async def test_history_goes_through_the_gateway_and_the_ledger_verifies(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        report = await _seed(runtime, upstream)

        me = local_actor()
        async with read_scope(runtime.db) as session:
            verified = await ledger_service.verify(session, me)
            by_user = await reports.usage_report(session, me, by="user")
            series = await reports.timeseries(session, me, period="day")
            rows = (await session.execute(select(UsageRecord))).scalars().all()
            q4 = (
                await session.execute(
                    select(LedgerPosting.amount_micros)
                    .join(LedgerTransaction)
                    .where(LedgerTransaction.memo == "Q4 pilot", LedgerPosting.amount_micros > 0)
                )
            ).scalar_one()
        assert report.sent == report.planned > 50
        assert len(rows) == report.sent
        assert verified.ok, verified.problems
        assert by_user.totals.measures["requests"] == report.sent
        assert by_user.totals.measures["cost_micros"] > 0
        assert len(series) >= 15  # a month of working days
        assert min(r.created_at for r in rows) >= report.start
        assert max(r.created_at for r in rows) < clock
        assert {r.client_family for r in rows} >= {"claude_code", "codex_cli"}
        assert any(r.status == "refused" for r in rows)  # Tom asks for Opus on Starter
        assert q4 == 300_000_000
        # The plan's sizes reach the demo upstream through the gateway (in the body:
        # headers pass only by allowlist), so the history is the one planned.
        planned = {t.request_id: t for t in plan(report.start, days=30, volume=0.06)}
        served = [(r, planned[r.request_id]) for r in rows if r.status == "ok"]
        assert served
        for record, turn in served:
            assert (record.input_tokens, record.output_tokens) == (
                turn.input_tokens,
                turn.output_tokens,
            )

    async def test_a_second_run_seeds_nothing_twice(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        first = await _seed(runtime, upstream)
        counts = [await _count(runtime, m) for m in (UsageRecord, LedgerTransaction)]

        async with DemoUpstream() as moved:
            second = await seed(runtime, upstream_url=moved.url, days=30, volume=0.06)
            async with read_scope(runtime.db) as session:
                accounts = await pool_service.list_accounts(session, local_actor())

        assert first.sent > 0
        assert (second.fresh, second.sent, second.start) == (False, 0, first.start)
        assert [await _count(runtime, m) for m in (UsageRecord, LedgerTransaction)] == counts
        assert {a.base_url for a in accounts.items} == {moved.url}

    async def test_refuses_a_database_with_a_real_workspace(
        self, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        from spectra.db.session import session_scope

        async with session_scope(runtime.db) as session:
            await users_service.create_user(session, local_actor(), email="cfo@acme.example")

        with pytest.raises(NotADemoWorkspaceError):
            await _seed(runtime, upstream)

    async def test_restarts_after_the_newcomer_changed_the_demo(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        from spectra.db.session import session_scope

        await _seed(runtime, upstream)
        me = local_actor()
        async with session_scope(runtime.db) as session:
            await users_service.create_user(session, me, email="newcomer@example.com")
            tom = await users_service.find_user_by_email(session, me, email=MEMBERS[6].email)
            assert tom is not None
            await users_service.suspend_user(session, me, user=tom.id, reason="trying things")

        again = await _seed(runtime, upstream)

        async with read_scope(runtime.db) as session:
            users = await users_service.list_users(session, me, limit=100)
        assert not again.fresh
        assert again.quickstart_secret.startswith("sk-spectra-")
        assert "newcomer@example.com" in {u.email for u in users.items}  # theirs to keep

    async def test_a_restart_serves_the_demo_even_when_a_step_no_longer_fits(
        self, clock: datetime, runtime: Runtime, upstream: DemoUpstream
    ) -> None:
        from spectra.cli.commands import demo as demo_command
        from spectra.db.session import session_scope

        await _seed(runtime, upstream)
        me = local_actor()
        async with session_scope(runtime.db) as session:
            priya = await users_service.find_user_by_email(session, me, email=MEMBERS[0].email)
            assert priya is not None
            await users_service.remove_user(session, me, user=priya.id, reason="trying things")

        # The quickstart key cannot go to a removed member: the step is said, the demo still serves.
        report = await demo_command._seed(
            runtime, upstream_url=upstream.url, password="spectra-demo", days=30, volume=0.06
        )

        assert report is None, "removed: no quickstart key for priya"
