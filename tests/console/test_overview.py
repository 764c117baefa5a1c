"""The overview answers a lead's morning questions: spend this month against the groups' caps
with the forecast (a burn-down chart), spend per day by model (stacked area), the top members and
models (bars), each pool account's last 24 hours (a sparkline); all as JSON for static/console.js,
no inline script."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import make_group, make_user
from tests.pool.factories import make_account
from tests.usage.factories import usage_record

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.usage import rollups
from spectra.usage import service as usage_service

from .conftest import Browser

BrowserFactory = Callable[..., Awaitable[Browser]]


def _chart(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S
    )
    assert found, f"no JSON for {chart_id}"
    return dict(json.loads(found.group(1)))


async def test_the_overview_draws_budget_area_bars_and_sparklines(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    admin = await browser(role="admin")
    now = datetime.now(UTC)
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name="morning", monthly_cap_micros=100_000_000)
        alice = await make_user(session, email="alice@morning.example.com", group_id=group.id)
        account = await make_account(session, local_actor(), name="morning-account")
        await usage_service.record_usage_batch(
            session,
            [
                usage_record(
                    created_at=max(now - timedelta(minutes=10 + i), rollups.day_of(now)),
                    user_id=alice.id,
                    group_id=group.id,
                    key_id=uuid.uuid4(),
                    account_id=account.id,
                    cost_micros=2_500_000,
                )
                for i in range(2)
            ],
        )
    async with session_scope(runtime.db) as session:
        await rollups.roll_up(session, now=now + timedelta(hours=1), lag=timedelta(0))
    page = await admin.get("/console/")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "<script>" not in html  # CSP: data in JSON script elements only
    assert "/console/static/vendor/chart-4.6.1.umd.min.js" in html
    assert "of $100.00 budget" in html

    burn = _chart(html, "budget-chart")
    assert burn["type"] == "line"
    assert [d["label"] for d in burn["datasets"]] == ["Budget left", "Forecast"]
    assert burn["spent_micros"] == 5_000_000
    assert 95.0 in burn["datasets"][0]["data"]  # $100 cap less today's $5
    assert burn["datasets"][1].get("borderDash")

    area = _chart(html, "area-chart")
    assert area["type"] == "line"
    assert area["stacked"] is True
    assert area["datasets"][0]["fill"] == "origin"
    assert "claude-sonnet-4-5" in [d["label"] for d in area["datasets"]]

    members = _chart(html, "members-chart")
    assert members["type"] == "bar"
    assert members["indexAxis"] == "y"
    assert members["labels"] == ["alice@morning.example.com"]
    assert members["datasets"][0]["data"] == [5.0]
    assert _chart(html, "models-chart")["labels"] == ["claude-sonnet-4-5"]

    row = re.search(r'<tr data-account-name="morning-account">.*?</tr>', html, re.S)
    assert row
    spark_id = re.search(r'data-chart="(spark-\d+)"', row.group(0))
    assert spark_id
    spark = _chart(html, spark_id.group(1))
    assert spark["sparkline"] is True
    assert len(spark["labels"]) == 24
    assert spark["total"] == 2


async def test_an_empty_workspace_says_what_to_do(browser: BrowserFactory) -> None:
    admin = await browser(role="admin")
    html = (await admin.get("/console/")).text
    assert "No group has a monthly cap" in html
    assert "invite members" in html
    assert _chart(html, "budget-chart")["datasets"][0]["label"] == "Spent this month"
