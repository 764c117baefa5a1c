"""Rollups equal a direct aggregate of the records after any sequence of inserts and cursor runs."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from spectra.db.base import Base
from spectra.db.session import Session
from spectra.usage import rollups
from spectra.usage import service as usage_service
from spectra.usage.models import UsageRecord, UsageRollup, UsageRollupCursor

from .factories import usage_record

START = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)
USERS = [uuid.UUID(int=i + 1) for i in range(3)]
MODELS = ["claude-sonnet-4-5", "gpt-5", "my-llama"]
CLIENTS = ["claude_code", "codex_cli", "other"]
STATUSES = ["ok", "ok", "refused", "error", "partial"]

records: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    user=st.sampled_from([*USERS, None]),
    model=st.sampled_from(MODELS),
    client=st.sampled_from(CLIENTS),
    status=st.sampled_from(STATUSES),
    tokens=st.integers(0, 100_000),
    cost=st.integers(0, 5_000_000),
    latency=st.one_of(st.none(), st.integers(0, 60_000)),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.lists(records, min_size=1, max_size=8)),
        st.tuples(st.just("advance"), st.integers(0, 3 * 3600)),
        st.tuples(st.just("roll"), st.integers(0, 7200), st.integers(1, 10)),
    ),
    max_size=25,
)


def _reference(rows: list[UsageRecord]) -> dict[tuple[str, str, str, datetime], dict[str, int]]:
    """An independent direct aggregate of the records, written plainly."""
    out: dict[tuple[str, str, str, datetime], dict[str, int]] = defaultdict(
        lambda: defaultdict(int)
    )
    for r in rows:
        user = "" if r.user_id is None else str(r.user_id)
        group = "" if r.group_id is None else str(r.group_id)
        account = "" if r.account_id is None else str(r.account_id)
        keys = {
            "all": "",
            "user": user,
            "group": group,
            "model": r.model_requested,
            "account": account,
            "key": "" if r.key_id is None else str(r.key_id),
            "client": r.client_family,
            "project": "" if r.project_id is None else str(r.project_id),
            "user_client": f"{user}|{r.client_family}",
            "user_model": f"{user}|{r.model_requested}",
            "group_model": f"{group}|{r.model_requested}",
            "account_model": f"{account}|{r.model_requested}",
            "account_user": f"{account}|{user}",
        }
        hour = r.created_at.replace(minute=0, second=0, microsecond=0)
        day = hour.replace(hour=0)
        for dimension, value in keys.items():
            for period, bucket in (("hour", hour), ("day", day)):
                cell = out[(period, dimension, value, bucket)]
                cell["requests"] += 1
                cell[
                    {"ok": "ok", "refused": "refused", "error": "errors", "partial": "partial"}[
                        r.status
                    ]
                ] += 1
                cell["input_tokens"] += r.input_tokens
                cell["output_tokens"] += r.output_tokens
                cell["cost_micros"] += r.cost_micros
                if r.latency_ms is not None:
                    cell["latency_ms_sum"] += r.latency_ms
                    cell["latency_count"] += 1
    return {k: dict(v) for k, v in out.items()}


def _stored(rows: list[UsageRollup]) -> dict[tuple[str, str, str, datetime], dict[str, int]]:
    names = (
        "requests",
        "ok",
        "refused",
        "errors",
        "partial",
        "input_tokens",
        "output_tokens",
        "cost_micros",
        "latency_ms_sum",
        "latency_count",
    )
    return {
        (r.period, r.dimension, r.value, r.bucket_start): {
            n: getattr(r, n) for n in names if getattr(r, n)
        }
        for r in rows
    }


async def _check(session: Session) -> None:
    at, last = await rollups.cursor_position(session)
    records_ = list((await session.execute(select(UsageRecord))).scalars().all())
    counted = [r for r in records_ if at is not None and (r.created_at, r.id) <= (at, last)]
    stored = _stored(list((await session.execute(select(UsageRollup))).scalars().all()))
    expected = {k: {n: v for n, v in cell.items() if v} for k, cell in _reference(counted).items()}
    assert stored == expected


async def _scenario(ops: list[Any]) -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        now = START
        for op in ops:
            async with maker() as raw:
                session = Session(raw)
                if op[0] == "insert":
                    batch = [
                        usage_record(
                            user_id=r["user"],
                            group_id=None
                            if r["user"] is None
                            else uuid.UUID(int=r["user"].int + 100),
                            model_requested=r["model"],
                            client_family=r["client"],
                            status=r["status"],
                            input_tokens=r["tokens"],
                            output_tokens=r["tokens"] // 3,
                            cost_micros=r["cost"],
                            latency_ms=r["latency"],
                            created_at=now,
                        )
                        for r in op[1]
                    ]
                    await usage_service.record_usage_batch(session, batch)
                elif op[0] == "advance":
                    now += timedelta(seconds=op[1])
                else:
                    await rollups.roll_up(
                        session, now=now, lag=timedelta(seconds=op[1]), batch=op[2]
                    )
                await session.commit()
                await _check(session)
        async with maker() as raw:
            session = Session(raw)
            while await rollups.roll_up(session, now=now, lag=timedelta(0), batch=7):
                pass
            await session.commit()
            assert await rollups.pending_records(session) == 0
            await _check(session)
    finally:
        await engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_rollups_equal_a_direct_aggregate(ops: list[Any]) -> None:
    asyncio.run(_scenario(ops))


class TestRollUp:
    async def test_on_this_database_rows_and_cursor_move_together(
        self, session: Session, clock: datetime
    ) -> None:
        user = uuid.uuid4()
        await usage_service.record_usage_batch(
            session,
            [usage_record(user_id=user, cost_micros=100, latency_ms=10) for _ in range(5)],
        )
        assert await rollups.roll_up(session, now=clock, lag=timedelta(0), batch=3) == 3
        assert await rollups.roll_up(session, now=clock, lag=timedelta(0), batch=3) == 2
        assert await rollups.roll_up(session, now=clock, lag=timedelta(0), batch=3) == 0
        await _check(session)
        row = (
            await session.execute(
                select(UsageRollup).where(
                    UsageRollup.dimension == "user",
                    UsageRollup.value == str(user),
                    UsageRollup.period == "day",
                )
            )
        ).scalar_one()
        assert (row.requests, row.cost_micros, row.latency_ms_sum) == (5, 500, 50)

    async def test_an_absurd_older_record_does_not_stop_the_job(
        self, session: Session, clock: datetime
    ) -> None:
        if session.get_bind().dialect.name == "postgresql":
            pytest.skip("PostgreSQL's INTEGER token columns cannot hold such a row")
        await usage_service.record_usage_batch(
            session,
            [usage_record(input_tokens=4 * 10**18) for _ in range(3)]
            + [usage_record(input_tokens=10)],
        )
        # Summed as stored, three such rows overflow SQLite's 64-bit integers.
        assert await rollups.roll_up(session, now=clock, lag=timedelta(0)) == 4
        row = (
            await session.execute(
                select(UsageRollup).where(
                    UsageRollup.dimension == "all", UsageRollup.period == "day"
                )
            )
        ).scalar_one()
        assert row.input_tokens == 3 * (2**31 - 1) + 10  # each absurd row counts at most 2^31-1

    async def test_records_inside_the_lag_wait(self, session: Session, clock: datetime) -> None:
        await usage_service.record_usage_batch(session, [usage_record()])
        assert await rollups.roll_up(session, now=clock, lag=timedelta(seconds=30)) == 0
        assert await rollups.pending_records(session) == 1
        assert await rollups.roll_up(session, now=clock + timedelta(seconds=30)) == 1


async def test_two_processes_first_roll_up_both_succeed(runtime: Any) -> None:
    """The serving process's job and a command may both find the cursor missing on a fresh
    database: both roll-ups succeed (the second creates nothing and waits for the first)."""
    from spectra.db.session import session_scope

    async def once() -> int:
        async with session_scope(runtime.db) as session:
            return await rollups.roll_up(session, lag=timedelta(0))

    for _ in range(5):
        assert list(await asyncio.gather(once(), once())) == [0, 0]
        async with session_scope(runtime.db) as session:
            await session.execute(delete(UsageRollupCursor))
