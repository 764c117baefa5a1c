"""Usage reports over many usage records: seed a scratch database (chunked executemany on
SQLite; on PostgreSQL one set-based `INSERT … SELECT … FROM generate_series` per million rows,
secondary indexes dropped during the load and rebuilt after it, so 10,000,000 records take
minutes), run the rollup job (set-based: one INSERT … SELECT … GROUP BY per batch), time each
report; the 1-minute load average before and after is in the output (the machine is shared).

Both seeders draw from the same distribution: 200 users in 10 groups, 2 keys each, 20 pool
accounts, 6 models, 5 clients, 90% ok / 4% refused / 3% error / 3% partial, spread evenly over
the last 30 days (ending an hour ago, so the rollup job's lag does not hold any back).

    python -m bench.reports --records 1000000   # SPECTRA_DATABASE_URL names the scratch database
Prints `BENCH_JSON {...}`.
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
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from spectra.audit.actor import local_actor
from spectra.config import reset_settings
from spectra.db.session import read_scope
from spectra.kit.clock import utc_now
from spectra.kit.ids import uuid7
from spectra.runtime import build_runtime, close_runtime
from spectra.usage import jobs, reports
from spectra.usage.models import UsageRecord, UsageRollup

CHUNK = 20_000
MODELS = [
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "gpt-5",
    "gpt-5-codex",
    "gpt-5-mini",
]
CLIENTS = ["claude_code", "codex", "cursor", "sdk", "other"]
STATUSES = ["ok"] * 90 + ["refused"] * 4 + ["error"] * 3 + ["partial"] * 3


def make_rows(count: int, start: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    groups = [uuid.UUID(int=g + 1) for g in range(10)]
    users = [(uuid.UUID(int=1000 + u), groups[u % 10]) for u in range(200)]
    accounts = [uuid.UUID(int=5000 + a) for a in range(20)]
    now = utc_now() - timedelta(hours=1)
    span = 30 * 86400
    rows = []
    for i in range(start, start + count):
        user, group = users[rng.randrange(200)]
        model = MODELS[rng.randrange(6)]
        status = STATUSES[rng.randrange(100)]
        at = now - timedelta(seconds=span * (1 - i / (start + count)) + rng.random())
        inp, out = rng.randrange(100, 50_000), rng.randrange(10, 4_000)
        rows.append(
            {
                "id": uuid7(),
                "created_at": at,
                "started_at": at,
                "request_id": f"req_bench{i}",
                "user_id": user,
                "key_id": uuid.UUID(int=user.int * 2 + rng.randrange(2)),
                "group_id": group,
                "funding": [],
                "account_id": accounts[rng.randrange(20)],
                "protocol": "anthropic_messages" if model.startswith("claude") else "openai_chat",
                "model_requested": model,
                "model_served": model,
                "is_streamed": True,
                "status": status,
                "error_type": None,
                "refusal_reason": None,
                "refusal_rule": None,
                "input_tokens": inp,
                "output_tokens": out,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "cost_micros": (inp * 3 + out * 15),
                "price_version": "bench",
                "latency_ms": rng.randrange(200, 20_000),
                "ttfb_ms": 300,
                "attempts": 1,
                "client_family": CLIENTS[rng.randrange(5)],
                "ledger_transaction_id": None,
            }
        )
    rows.sort(key=lambda r: r["created_at"])
    return rows


PG_CHUNK = 1_000_000

_PG_SEED = """
INSERT INTO usage_records (
    id, created_at, started_at, request_id, user_id, key_id, group_id, funding, account_id,
    protocol, model_requested, model_served, is_streamed, status, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cost_micros, price_version, latency_ms, ttfb_ms,
    attempts, client_family
)
SELECT
    ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
    at, at, 'req_bench' || g,
    ('00000000-0000-0000-0000-' || lpad(to_hex(1000 + u), 12, '0'))::uuid,
    ('00000000-0000-0000-0000-' || lpad(to_hex((1000 + u) * 2 + k), 12, '0'))::uuid,
    ('00000000-0000-0000-0000-' || lpad(to_hex(u % 10 + 1), 12, '0'))::uuid,
    '[]'::json,
    ('00000000-0000-0000-0000-' || lpad(to_hex(5000 + a), 12, '0'))::uuid,
    CASE WHEN m < 3 THEN 'anthropic_messages' ELSE 'openai_chat' END,
    (:models)[m + 1], (:models)[m + 1], true,
    CASE WHEN st < 90 THEN 'ok' WHEN st < 94 THEN 'refused' WHEN st < 97 THEN 'error'
         ELSE 'partial' END,
    inp, outp, 0, 0, inp * 3 + outp * 15, 'bench', lat, 300, 1, (:clients)[c + 1]
FROM (
    SELECT g,
        CAST(:end_at AS timestamptz)
            - make_interval(secs => CAST(:span AS float8) * (1 - g::float8 / CAST(:total AS float8)) + random()) AS at,
        floor(random() * 200)::int AS u, floor(random() * 2)::int AS k,
        floor(random() * 20)::int AS a, floor(random() * 6)::int AS m,
        floor(random() * 100)::int AS st, floor(random() * 5)::int AS c,
        100 + floor(random() * 49900)::int AS inp, 10 + floor(random() * 3990)::int AS outp,
        200 + floor(random() * 19800)::int AS lat
    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g
) AS r
"""


async def seed_pg(db: Any, records: int) -> None:
    """Set-based: PostgreSQL generates the rows itself, a million per statement and
    transaction; the secondary indexes are dropped first and rebuilt once at the end (building
    an index over sorted data is far cheaper than 10,000,000 random insertions into nine)."""
    from sqlalchemy import text
    from sqlalchemy.dialects.postgresql import ARRAY
    from sqlalchemy.types import String

    async with db.engine.begin() as conn:
        indexes = [
            (row[0], row[1])
            for row in await conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_records'"
                    " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
                )
            )
        ]
        for name, _ in indexes:
            await conn.execute(text(f'DROP INDEX "{name}"'))
    end_at = utc_now() - timedelta(hours=1)
    stmt = text(_PG_SEED).bindparams(
        bindparam("models", type_=ARRAY(String)), bindparam("clients", type_=ARRAY(String))
    )
    done = 0
    while done < records:
        n = min(PG_CHUNK, records - done)
        async with db.engine.begin() as conn:
            await conn.execute(
                stmt,
                {
                    "models": MODELS,
                    "clients": CLIENTS,
                    "end_at": end_at,
                    "span": 30 * 86400.0,
                    "total": float(records),
                    "lo": done,
                    "hi": done + n - 1,
                },
            )
        done += n
    async with db.engine.begin() as conn:
        for _, definition in indexes:
            await conn.execute(text(definition))
        await conn.execute(text("ANALYZE usage_records"))


async def seed(db: Any, records: int) -> None:
    if db.engine.dialect.name == "postgresql":
        await seed_pg(db, records)
        return
    table = UsageRecord.__table__
    done = 0
    while done < records:
        n = min(CHUNK, records - done)
        rows = make_rows(n, done, done)
        async with db.engine.begin() as conn:
            await conn.execute(table.insert(), rows)
        done += n


async def timed(fn: Any, repeat: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


async def run(records: int) -> dict[str, Any]:
    settings = reset_settings()
    runtime = await build_runtime(settings, migrate_schema=True)
    owner = local_actor()
    load0 = os.getloadavg()[0]
    try:
        db = runtime.db
        t0 = time.perf_counter()
        await seed(db, records)
        seed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        while await jobs.run_rollups(db, lag=timedelta(seconds=0)):
            pass
        rollup_s = time.perf_counter() - t0
        async with read_scope(db) as session:
            rollup_rows = (
                await session.execute(select(func.count()).select_from(UsageRollup))
            ).scalar_one()
        since, until = reports.default_range(30)
        week = (until - timedelta(days=7), until)

        def report(**kw: Any) -> Any:
            async def go() -> None:
                async with read_scope(db) as session:
                    await reports.usage_report(session, owner, since=since, until=until, **kw)

            return go

        async def series(period: str, lo: Any, hi: Any) -> None:
            async with read_scope(db) as session:
                await reports.timeseries(session, owner, period=period, since=lo, until=hi)

        async def adoption() -> None:
            async with read_scope(db) as session:
                await reports.adoption(session, owner, since=since, until=until)

        timings: dict[str, tuple[float, float]] = {}
        for by in ("user", "group", "model", "account", "key", "client"):
            timings[f"by {by}, 30 days"] = await timed(report(by=by))
        timings["top 10 users, 30 days"] = await timed(report(by="user", limit=10))
        timings["daily series, 30 days"] = await timed(lambda: series("day", since, until))
        timings["hourly series, 7 days"] = await timed(lambda: series("hour", *week))
        timings["adoption, 30 days"] = await timed(adoption)
        return {
            "records": records,
            "seed_s": seed_s,
            "seed_per_s": records / seed_s,
            "rollup_s": rollup_s,
            "rollup_per_s": records / rollup_s,
            "rollup_rows": int(rollup_rows),
            "reports_ms": timings,
            "load": [load0, os.getloadavg()[0]],
        }
    finally:
        await close_runtime(runtime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    print("BENCH_JSON " + json.dumps(asyncio.run(run(args.records))))


if __name__ == "__main__":
    main()
