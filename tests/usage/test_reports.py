from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest

from spectra.audit.actor import Actor, ActorKind
from spectra.db.session import Session, session_scope
from spectra.runtime import Runtime
from spectra.usage import exports, reports, rollups
from spectra.usage import service as usage_service
from spectra.usage.errors import InvalidUsageFilterError
from spectra.users.models import User
from spectra.users.permissions import PermissionDeniedError

from .factories import make_group, make_user, usage_record

AUDITOR = Actor(kind=ActorKind.USER, label="auditor@example.com", role="auditor")


async def _seed(session: Session) -> tuple[User, User]:
    team = await make_group(session, name="Platform")
    alice = await make_user(session, group=team, email="alice@example.com")
    bob = await make_user(session, email="bob@example.com")
    await usage_service.record_usage_batch(
        session,
        [
            usage_record(
                user_id=alice.id,
                group_id=team.id,
                cost_micros=3_000_000,
                client_family="claude_code",
            ),
            usage_record(
                user_id=alice.id,
                group_id=team.id,
                cost_micros=1_000_000,
                client_family="codex_cli",
                model_requested="gpt-5",
            ),
            usage_record(
                user_id=alice.id,
                group_id=team.id,
                cost_micros=0,
                status="refused",
                refusal_reason="model_unpriced",
            ),
            usage_record(
                user_id=bob.id,
                group_id=bob.group_id,
                cost_micros=500_000,
                client_family="claude_code",
                status="error",
            ),
        ],
    )
    return alice, bob


class TestUsageReport:
    async def test_by_user_sorted_by_cost_with_rates(
        self, session: Session, clock: datetime
    ) -> None:
        await _seed(session)
        await rollups.roll_up(session, now=clock, lag=timedelta(0))
        report = await reports.usage_report(session, AUDITOR, by="user")
        data = report.as_json()
        assert [r["label"] for r in data["items"]] == ["alice@example.com", "bob@example.com"]
        alice = data["items"][0]
        assert (alice["requests"], alice["cost"], alice["refusal_rate"]) == (3, "4.00", "0.3333")
        assert data["items"][1]["error_rate"] == "1.0000"
        assert data["totals"]["cost_micros"] == 4_500_000
        assert data["as_of"] == clock

    async def test_by_group_and_model_and_top(self, session: Session, clock: datetime) -> None:
        await _seed(session)
        await rollups.roll_up(session, now=clock, lag=timedelta(0))
        by_group = await reports.usage_report(session, AUDITOR, by="group")
        assert by_group.rows[0].label == "Platform"
        by_model = await reports.usage_report(session, AUDITOR, by="model", limit=1)
        assert [r.key for r in by_model.rows] == ["claude-sonnet-4-5"]
        assert by_model.totals.measures["requests"] == 4

    async def test_time_range_excludes_other_days(self, session: Session, clock: datetime) -> None:
        await _seed(session)
        await rollups.roll_up(session, now=clock, lag=timedelta(0))
        day = rollups.day_of(clock)
        inside = await reports.usage_report(
            session, AUDITOR, by="user", since=day, until=day + timedelta(days=1)
        )
        assert inside.period == "day"
        assert inside.totals.measures["requests"] == 4
        before = await reports.usage_report(
            session, AUDITOR, by="user", since=day - timedelta(days=1), until=day
        )
        assert before.rows == []
        hourly = await reports.usage_report(
            session, AUDITOR, by="user", since=clock, until=clock + timedelta(hours=1)
        )
        assert hourly.period == "hour"
        assert hourly.totals.measures["requests"] == 4

    async def test_unknown_dimension_and_member_are_refused(self, session: Session) -> None:
        with pytest.raises(InvalidUsageFilterError, match="Cannot report by"):
            await reports.usage_report(session, AUDITOR, by="planet")
        member = Actor(kind=ActorKind.USER, label="m@example.com", role="member")
        with pytest.raises(PermissionDeniedError):
            await reports.usage_report(session, member, by="user")


class TestAdoptionAndTimeseries:
    async def test_counts_members_per_client(self, session: Session, clock: datetime) -> None:
        await _seed(session)
        await rollups.roll_up(session, now=clock, lag=timedelta(0))
        items = {i["client"]: i for i in await reports.adoption(session, AUDITOR)}
        assert items["claude_code"]["members"] == 2
        assert items["codex_cli"]["members"] == 1
        assert items["claude_code"]["share_of_members"] == "1.0000"

    async def test_spend_per_hour(self, session: Session, clock: datetime) -> None:
        await _seed(session)
        await rollups.roll_up(session, now=clock, lag=timedelta(0))
        series = await reports.timeseries(session, AUDITOR, period="hour")
        assert [(s["bucket_start"], s["cost_micros"]) for s in series] == [(clock, 4_500_000)]


class TestExports:
    async def test_csv_streams_every_record_in_pages(
        self, session: Session, clock: datetime
    ) -> None:
        await usage_service.record_usage_batch(
            session, [usage_record(cost_micros=i) for i in range(25)]
        )
        filters = exports.authorize_export(AUDITOR, fmt="csv")
        chunks = [c async for c in exports.stream_records(session, filters, fmt="csv", chunk=10)]
        assert len(chunks) == 4  # header + 3 pages
        rows = list(csv.DictReader(io.StringIO("".join(chunks))))
        assert [int(r["cost_micros"]) for r in rows] == list(range(25))
        assert rows[1]["cost"] == "0.000001"

    async def test_csv_neutralises_formulas_a_caller_chose(
        self, session: Session, clock: datetime
    ) -> None:
        # the requested model is whatever a member's client sent
        chosen = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"]
        await usage_service.record_usage_batch(
            session, [usage_record(model_requested=m, cost_micros=1) for m in chosen]
        )
        filters = exports.authorize_export(AUDITOR, fmt="csv")
        text = "".join([c async for c in exports.stream_records(session, filters, fmt="csv")])
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["model_requested"] for r in rows) == sorted("'" + m for m in chosen)

    async def test_a_report_csv_neutralises_a_members_name(
        self, session: Session, clock: datetime
    ) -> None:
        rows = [{"user": "=cmd|' /C calc'!A0", "cost": "-1.50", "requests": 2}]
        text = "".join(
            [c async for c in exports.stream_rows(rows, "csv", ["user", "cost", "requests"])]
        )
        parsed = list(csv.DictReader(io.StringIO(text)))
        assert parsed == [{"user": "'=cmd|' /C calc'!A0", "cost": "-1.50", "requests": "2"}]

    async def test_jsonl_and_member_scope(self, session: Session, clock: datetime) -> None:
        alice, _bob = await _seed(session)
        member = Actor(
            kind=ActorKind.USER, label="alice@example.com", user_id=alice.id, role="member"
        )
        filters = exports.authorize_export(member, fmt="jsonl")
        text = "".join([c async for c in exports.stream_records(session, filters, fmt="jsonl")])
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == 3
        assert {line["user_id"] for line in lines} == {str(alice.id)}

    def test_unknown_format_is_refused(self) -> None:
        with pytest.raises(InvalidUsageFilterError, match="format"):
            exports.authorize_export(AUDITOR, fmt="xlsx")


class TestReportApi:
    async def test_report_and_export_over_http(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None], runtime: Runtime
    ) -> None:
        async with session_scope(runtime.db) as session:
            await _seed(session)
        async with session_scope(runtime.db) as session:
            await rollups.roll_up(session, lag=timedelta(0))
        act_as(AUDITOR)
        report = (await client.get("/api/usage/report", params={"by": "client"})).json()
        assert {i["key"] for i in report["items"]} == {"claude_code", "codex_cli"}
        response = await client.get("/api/usage/export", params={"format": "jsonl"})
        assert response.status_code == 200
        assert len(response.text.splitlines()) == 4
        bad = await client.get("/api/usage/export", params={"format": "xlsx"})
        assert bad.status_code == 422
