"""Statements, forecasts, economics and reconciliation over real gateway traffic, via the API."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.world import ANTHROPIC_MODEL, OPENAI_MODEL, UPSTREAM_KEY, World, build_world

from spectra.audit.actor import Actor, local_actor
from spectra.db.session import read_scope, session_scope
from spectra.kit import clock as clock_module
from spectra.ledger import service as ledger_service
from spectra.ledger.verify import verify_ledger
from spectra.runtime import Runtime
from spectra.usage import jobs as usage_jobs
from spectra.usage.models import UsageRecord
from spectra.users.models import Group


@pytest.fixture(autouse=True)
def _as_owner(act_as: Callable[[Actor], None], clock: datetime) -> None:
    """API calls act as the local owner; the clock is frozen at 2026-11-15 10:00 UTC."""
    act_as(local_actor())


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as upstream:
        yield upstream


async def _traffic(client: httpx.AsyncClient, world: World, fake: FakeUpstream) -> None:
    fake.script(Reply(text="a", input_tokens=1000, output_tokens=200))
    r = await client.post(
        "/v1/messages",
        headers=world.headers(anthropic=True),
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert r.status_code == 200, r.text
    fake.script(Reply(text="b", input_tokens=500, output_tokens=100))
    r = await client.post(
        "/v1/chat/completions",
        headers=world.headers(),
        json={"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text
    await world.settle()


@pytest_asyncio.fixture
async def traffic(
    runtime: Runtime, app: object, client: httpx.AsyncClient, fake: FakeUpstream
) -> World:
    world = await build_world(runtime)
    await world.add_account(
        "anthropic-a", provider="anthropic", base_url=fake.url, models=["claude-*"]
    )
    await world.add_account(
        "openai-fixed",
        provider="openai",
        base_url=fake.url,
        models=["gpt-*"],
        cost_basis="fixed_monthly",
        fixed_monthly_cost="300",
    )
    await world.recharge("10")
    await _traffic(client, world, fake)
    await usage_jobs.run_rollups(runtime.db, lag=timedelta(0))
    return world


async def _records(runtime: Runtime) -> list[UsageRecord]:
    async with read_scope(runtime.db) as session:
        return list((await session.execute(select(UsageRecord))).scalars().all())


class TestStatementApi:
    async def test_statement_after_gateway_usage_reconciles_with_verify(
        self, client: httpx.AsyncClient, traffic: World, runtime: Runtime
    ) -> None:
        records = await _records(runtime)
        spent = sum(r.cost_micros for r in records)
        assert spent > 0
        r = await client.get(
            "/api/statements",
            params={"user": traffic.email, "since": "2026-11-01", "until": "2026-12-01"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["opening_balance_micros"] == 0
        usage = {line["model"]: line for line in body["lines"] if line["category"] == "usage"}
        assert set(usage) == {ANTHROPIC_MODEL, OPENAI_MODEL}
        by_model = {r.model_requested: r.cost_micros for r in records}
        for model, line in usage.items():
            assert line["amount_micros"] == -by_model[model]
            assert line["count"] == 1
        assert body["closing_balance_micros"] == 10_000_000 - spent
        assert body["ledger_balance_micros"] == body["closing_balance_micros"]
        assert body["reconciles"] is True
        async with read_scope(runtime.db) as session:
            assert (await verify_ledger(session)).ok
            wallet = await ledger_service.balance(session, await traffic.wallet_id())
        assert wallet == body["closing_balance_micros"]

    async def test_statement_as_csv_and_html(
        self, client: httpx.AsyncClient, traffic: World
    ) -> None:
        params = {"user": traffic.email, "format": "csv", "include_usage": "true"}
        r = await client.get("/api/statements", params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows[0]["section"] == "opening"
        closing = next(row for row in rows if row["section"] == "closing")
        moved = sum(int(row["amount_micros"]) for row in rows if row["section"] == "transaction")
        assert moved == int(closing["amount_micros"])
        assert [row["label"] for row in rows if row["section"] == "transaction"].count("usage") == 2
        html = await client.get("/api/statements", params={"user": traffic.email, "format": "html"})
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert "Reconciled" in html.text
        assert traffic.email in html.text
        lines = await client.get(
            "/api/statements", params={"group": "nope-" + uuid.uuid4().hex[:4], "format": "jsonl"}
        )
        assert lines.status_code == 404

    async def test_statement_needs_exactly_one_subject(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/statements")
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_usage_filter"


class TestForecastApi:
    async def test_group_forecast_states_runway_and_method(
        self, client: httpx.AsyncClient, traffic: World, runtime: Runtime
    ) -> None:
        async with session_scope(runtime.db) as session:
            group = await session.get(Group, traffic.group_id)
            assert group is not None
            group.monthly_cap_micros = 1_000_000
            group.member_monthly_cap_micros = 500_000
        await traffic.recharge("5", group=True)
        clock_module.advance(timedelta(hours=1))  # the traffic's hour is now a whole past hour
        r = await client.get("/api/usage/forecast", params={"group": group.name})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "Runway" in body["method"]
        assert body["window_days"] == 7
        group_item, member_item = body["items"]
        assert group_item["subject"] == "group"
        spent = sum(rec.cost_micros for rec in await _records(runtime))
        assert group_item["window_spend_micros"] == spent
        assert group_item["month_to_date_micros"] == spent
        assert group_item["budget_micros"] == 1_000_000
        # the group wallet paid nothing: its balance is not drawn on
        assert group_item["runway_days"] is None
        assert "not being drawn on" in group_item["summary"]
        assert member_item["label"] == traffic.email
        assert member_item["budget_micros"] == 500_000
        assert member_item["funds_used_per_day_micros"] == round(spent / 7)
        assert member_item["runs_out_on"] is not None
        assert "lasts until about" in member_item["summary"]
        csv_body = await client.get(
            "/api/usage/forecast", params={"group": group.name, "format": "csv"}
        )
        assert csv_body.text.splitlines()[0].startswith("subject,label,burn_rate_per_day")


class TestEconomicsApi:
    async def test_accounts_models_and_fixed_cost_per_member(
        self, client: httpx.AsyncClient, traffic: World, runtime: Runtime
    ) -> None:
        r = await client.get("/api/usage/economics", params={"since": "2026-11-01"})
        assert r.status_code == 200, r.text
        body = r.json()
        items = {(i["account"], i["model"]): i for i in body["items"]}
        assert set(items) == {("anthropic-a", ANTHROPIC_MODEL), ("openai-fixed", OPENAI_MODEL)}
        claude = items[("anthropic-a", ANTHROPIC_MODEL)]
        assert claude["requests"] == 1
        assert claude["list_price_known"] is True
        assert claude["list_price_cost_micros"] == 1000 * 3 + 200 * 15  # genai-prices: $3 / $15
        accounts = {a["account"]: a for a in body["accounts"]}
        fixed = accounts["openai-fixed"]
        assert fixed["active_members"] == 1
        # created Nov 15 10:00 in a 30-day November: 15 days 14 hours of 300
        assert fixed["fixed_cost_micros"] == 300_000_000 * (15 * 24 + 14) // (30 * 24)
        assert fixed["cost_per_active_member_micros"] == fixed["fixed_cost_micros"]
        assert fixed["idle_share"] is not None
        assert float(fixed["idle_share"]) > 0.99
        assert accounts["anthropic-a"]["fixed_cost"] is None

    async def test_long_context_tier_is_applied_per_request_not_per_hour(
        self, client: httpx.AsyncClient, traffic: World, runtime: Runtime, fake: FakeUpstream
    ) -> None:
        """Two 150k-token prompts in one hour: neither crosses the 200k tier, their sum does.
        Charging prices each at base rates; so must the list price (it priced the hour's sum
        at the tier before, which doubled the input cost and turned margins negative). A request
        crossing the tier on its own: tests/usage/test_pricing.py, `list_cost`."""
        await traffic.recharge("50")
        for tokens in (150_000, 150_000):
            fake.script(Reply(text="a", input_tokens=tokens, output_tokens=100))
            r = await client.post(
                "/v1/messages",
                headers=traffic.headers(anthropic=True),
                json={
                    "model": ANTHROPIC_MODEL,
                    "max_tokens": 10,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
            assert r.status_code == 200, r.text
        await traffic.settle()
        await usage_jobs.run_rollups(runtime.db, lag=timedelta(0))
        r = await client.get("/api/usage/economics", params={"since": "2026-11-01"})
        assert r.status_code == 200, r.text
        items = {(i["account"], i["model"]): i for i in r.json()["items"]}
        claude = items[("anthropic-a", ANTHROPIC_MODEL)]
        assert claude["requests"] == 3
        # $3 / $15 per million each (the hour's 301k prompt tokens at the tier: $6 / $22.50).
        assert claude["list_price_cost_micros"] == (1000 * 3 + 200 * 15) + 2 * (
            150_000 * 3 + 100 * 15
        )
        # The world charges members the same base prices, so the margin on these is exact.
        records = await _records(runtime)
        charged = sum(rec.cost_micros for rec in records if rec.model_requested == ANTHROPIC_MODEL)
        assert claude["charged_micros"] == charged

    async def test_reconcile_month_matches_ledger_and_records(
        self, client: httpx.AsyncClient, traffic: World, runtime: Runtime
    ) -> None:
        r = await client.get("/api/usage/reconcile", params={"since": "2026-10-01"})
        assert r.status_code == 200, r.text
        october, november = r.json()["items"]
        assert october["charged_to_members_micros"] == 0
        spent = sum(rec.cost_micros for rec in await _records(runtime))
        assert november["month"] == "2026-11"
        assert november["charged_to_members_micros"] == spent
        assert november["requests_priced_micros"] == spent
        assert november["unbilled_micros"] == 0
        assert november["pool_cost_at_list_price_micros"] == 6000
        assert november["fixed_account_costs_micros"] > 0
        assert november["margin_micros"] == spent - november["pool_cost_micros"]
        lines = await client.get("/api/usage/reconcile", params={"format": "jsonl"})
        assert json.loads(lines.text.splitlines()[0])["month"] == "2026-11"

    async def test_report_download_as_csv(self, client: httpx.AsyncClient, traffic: World) -> None:
        r = await client.get("/api/usage/report", params={"by": "model", "format": "csv"})
        assert r.status_code == 200, r.text
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert {row["key"] for row in rows} == {ANTHROPIC_MODEL, OPENAI_MODEL}
