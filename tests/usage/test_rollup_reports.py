"""Reports read from the SQL-built rollups equal a direct aggregation of the raw records.

Varied records over several days across the end of summer time in Europe/Berlin
(2026-10-25 01:00Z), rolled up incrementally in small batches (so the upsert adds into rows
that already exist), then every report compared with the same numbers summed in Python.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import Session
from spectra.usage import reports, rollups
from spectra.usage import service as usage_service
from spectra.usage.models import UsageRecord
from spectra.usage.periods import local_midnight, zone

from .factories import make_group, make_user, usage_record

AUDITOR = Actor(kind=ActorKind.USER, label="auditor@example.com", role="auditor")
BERLIN = zone("Europe/Berlin")
FIRST = datetime(2026, 10, 23, 0, 0, tzinfo=UTC)
DAYS = 5
MODELS = ["claude-sonnet-4-5", "gpt-5", "my-llama"]
CLIENTS = ["claude_code", "codex_cli", "other"]
STATUSES = ["ok", "ok", "ok", "refused", "error", "partial"]
REFUSALS = ["model_unpriced", "package_allowance_exhausted", "rate_limited"]
STATUS_MEASURE = {"ok": "ok", "refused": "refused", "error": "errors", "partial": "partial"}
RANGES = {
    "whole UTC days (day buckets)": (FIRST, FIRST + timedelta(days=DAYS)),
    # Local midnights across the DST change: 22:00Z, then 23:00Z (hour buckets).
    "Berlin days across DST (hour buckets)": (
        local_midnight(date(2026, 10, 24), BERLIN),
        local_midnight(date(2026, 10, 27), BERLIN),
    ),
}


async def _seed(session: Session) -> None:
    rng = random.Random(11)
    groups = [await make_group(session) for _ in range(2)]
    users = [await make_user(session, group=groups[i % 2]) for i in range(4)]
    members: list[tuple[uuid.UUID | None, uuid.UUID | None, list[uuid.UUID | None]]] = [
        (u.id, u.group_id, [uuid.uuid4(), uuid.uuid4()]) for u in users
    ]
    members.append((None, None, [None]))
    accounts: list[uuid.UUID | None] = [uuid.uuid4() for _ in range(3)]
    accounts.append(None)
    moments = sorted(
        FIRST + timedelta(seconds=rng.randrange(DAYS * 86400), microseconds=rng.randrange(10**6))
        for _ in range(500)
    )
    moments += moments[::25]  # ties on created_at: the cursor orders them by id
    moments.sort()
    clock = FIRST
    for start in range(0, len(moments), 60):
        chunk = moments[start : start + 60]
        batch = []
        for at in chunk:
            user, group, keys = rng.choice(members)
            status = rng.choice(STATUSES)
            refused = status == "refused"
            batch.append(
                usage_record(
                    created_at=at,
                    user_id=user,
                    group_id=group,
                    key_id=rng.choice(keys),
                    account_id=None if refused else rng.choice(accounts),
                    model_requested=rng.choice(MODELS),
                    client_family=rng.choice(CLIENTS),
                    status=status,
                    refusal_reason=rng.choice(REFUSALS) if refused else None,
                    is_streamed=rng.random() < 0.5,
                    input_tokens=0 if refused else rng.randrange(100_000),
                    output_tokens=0 if refused else rng.randrange(10_000),
                    cache_read_tokens=rng.choice([0, rng.randrange(50_000)]),
                    cache_write_tokens=rng.choice([0, rng.randrange(5_000)]),
                    cost_micros=0 if refused else rng.randrange(5_000_000),
                    latency_ms=None if rng.random() < 0.2 else rng.randrange(60_000),
                )
            )
        await usage_service.record_usage_batch(session, batch)
        clock = max(clock, chunk[-1])
        while await rollups.roll_up(session, now=clock, lag=timedelta(0), batch=37):
            pass
    assert await rollups.pending_records(session) == 0


def _key(record: UsageRecord, by: str) -> str:
    value = {
        "user": record.user_id,
        "group": record.group_id,
        "key": record.key_id,
        "account": record.account_id,
        "model": record.model_requested,
        "client": record.client_family,
        "project": record.project_id,
    }[by]
    return "" if value is None else str(value)


def _add(row: reports.ReportRow, record: UsageRecord) -> None:
    m = row.measures
    m["requests"] += 1
    m[STATUS_MEASURE[record.status]] += 1
    m["input_tokens"] += record.input_tokens
    m["output_tokens"] += record.output_tokens
    m["cache_read_tokens"] += record.cache_read_tokens
    m["cache_write_tokens"] += record.cache_write_tokens
    m["cost_micros"] += record.cost_micros
    if record.latency_ms is not None:
        m["latency_ms_sum"] += record.latency_ms
        m["latency_count"] += 1


def _numbers(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "label"}


async def _records(session: Session, since: datetime, until: datetime) -> list[UsageRecord]:
    stmt = select(UsageRecord).where(
        UsageRecord.created_at >= since, UsageRecord.created_at < until
    )
    return list((await session.execute(stmt)).scalars().all())


async def test_reports_from_rollups_equal_a_direct_aggregation(session: Session) -> None:
    await _seed(session)
    for name, (since, until) in RANGES.items():
        records = await _records(session, since, until)
        assert len(records) > 100, name

        for by in reports.REPORT_DIMENSIONS:
            expected: dict[str, reports.ReportRow] = {}
            totals = reports.ReportRow(key="", label="total")
            for r in records:
                key = _key(r, by)
                _add(expected.setdefault(key, reports.ReportRow(key=key, label="")), r)
                _add(totals, r)
            report = await reports.usage_report(session, AUDITOR, by=by, since=since, until=until)
            got = report.as_json()
            assert {i["key"]: _numbers(i) for i in got["items"]} == {
                k: _numbers(row.as_json()) for k, row in expected.items()
            }, (name, by)
            assert got["totals"] == totals.as_json(), (name, by)

        for period, bucket_of in (("day", rollups.day_of), ("hour", rollups.hour_of)):
            buckets: dict[datetime, reports.ReportRow] = {}
            for r in records:
                b = bucket_of(r.created_at)
                _add(buckets.setdefault(b, reports.ReportRow(key=b.isoformat(), label="")), r)
            low, high = since, until
            if period == "day":  # the whole days the range touches
                low, high = rollups.day_of(since), rollups.day_of(until - timedelta(microseconds=1))
                high += timedelta(days=1)
            series = await reports.timeseries(
                session, AUDITOR, period=period, since=low, until=high
            )
            if period == "hour":
                assert series == [
                    {"bucket_start": b, **buckets[b].as_json()} for b in sorted(buckets)
                ], name
            else:
                whole = await _records(session, low, high)
                expected_days: dict[datetime, reports.ReportRow] = {}
                for r in whole:
                    b = rollups.day_of(r.created_at)
                    row = expected_days.setdefault(
                        b, reports.ReportRow(key=b.isoformat(), label="")
                    )
                    _add(row, r)
                assert series == [
                    {"bucket_start": b, **expected_days[b].as_json()} for b in sorted(expected_days)
                ], name

        users: dict[str, set[str]] = defaultdict(set)
        requests: dict[str, int] = defaultdict(int)
        cost: dict[str, int] = defaultdict(int)
        for r in records:
            if r.user_id is not None:
                users[r.client_family].add(str(r.user_id))
            requests[r.client_family] += 1
            cost[r.client_family] += r.cost_micros
        everyone = set().union(*users.values())
        got_adoption = await reports.adoption(session, AUDITOR, since=since, until=until)
        assert [
            (a["client"], a["members"], a["share_of_members"], a["requests"], a["cost_micros"])
            for a in got_adoption
        ] == sorted(
            (
                (c, len(users[c]), f"{len(users[c]) / len(everyone):.4f}", requests[c], cost[c])
                for c in requests
            ),
            key=lambda t: (-t[1], t[0]),
        ), name
