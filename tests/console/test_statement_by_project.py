"""A statement grouped by project (`by=project`): requests served through the gateway attributed to
two projects and to none, one of them partly refunded; the project groups sum exactly to the
statement's usage and refunds lines, through the API, the CLI's table and the console page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway.conftest import fake, pooled, world
from tests.gateway.world import ANTHROPIC_MODEL, OWNER, World

from spectra.audit.actor import Actor
from spectra.budgets import projects as projects_service
from spectra.db.session import session_scope
from spectra.ledger import service as ledger_service
from spectra.usage import rollups
from spectra.usage.by_project import NO_PROJECT

__all__ = ["fake", "pooled", "world"]


async def _ask(client: httpx.AsyncClient, world: World, project: str | None) -> None:
    headers = world.headers(anthropic=True)
    if project is not None:
        headers["x-spectra-project"] = project
    resp = await client.post(
        "/v1/messages",
        headers=headers,
        json={
            "model": ANTHROPIC_MODEL,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert resp.status_code == 200, resp.text


@pytest.fixture
async def spent(client: httpx.AsyncClient, pooled: World, fake: FakeUpstream) -> dict[str, Any]:
    ids: dict[str, uuid.UUID] = {}
    async with session_scope(pooled.runtime.db) as session:
        for name in ("apollo", "gemini"):
            view = await projects_service.create_project(
                session, OWNER, name=name, header_allowed=True
            )
            ids[name] = view.id
            await projects_service.add_member(session, OWNER, name=name, email=pooled.email)
    await pooled.sync()
    plan = [("apollo", 1000, 200), ("apollo", 3000, 10), ("gemini", 777, 33), (None, 12345, 67)]
    for project, input_tokens, output_tokens in plan:
        fake.script(Reply(text="ok", input_tokens=input_tokens, output_tokens=output_tokens))
        await _ask(client, pooled, project)
    await pooled.settle()
    records = {r.input_tokens: r for r in await pooled.records() if r.status == "ok"}
    assert {r.project_id for r in records.values()} == {ids["apollo"], ids["gemini"], None}
    refunded = records[3000]
    assert refunded.ledger_transaction_id is not None
    async with session_scope(pooled.runtime.db) as session:
        await ledger_service.refund(
            session,
            OWNER,
            transaction_id=refunded.ledger_transaction_id,
            amount=refunded.cost_micros // 3,
            reason="test refund",
            idempotency_key="by-project-refund",
        )
    return {"ids": ids, "records": records, "refund": refunded.cost_micros // 3}


async def test_the_projects_sum_exactly_to_the_usage_and_refunds_lines(
    client: httpx.AsyncClient,
    pooled: World,
    spent: dict[str, Any],
    act_as: Callable[[Actor], None],
) -> None:
    act_as(OWNER)
    resp = await client.get("/api/statements", params={"user": pooled.email, "by": "project"})
    assert resp.status_code == 200, resp.text
    data = resp.json()
    records = spent["records"]
    groups = {g["label"]: g for g in data["by_project"]}
    assert set(groups) == {"apollo", "gemini", NO_PROJECT}
    assert groups[NO_PROJECT]["project_id"] is None
    assert groups["apollo"]["project_id"] == str(spent["ids"]["apollo"])
    assert groups["apollo"]["requests"] == 2
    assert groups["apollo"]["usage_micros"] == -(
        records[1000].cost_micros + records[3000].cost_micros
    )
    assert groups["apollo"]["refunds_micros"] == spent["refund"]
    assert groups["gemini"]["usage_micros"] == -records[777].cost_micros
    assert groups[NO_PROJECT]["usage_micros"] == -records[12345].cost_micros
    assert groups[NO_PROJECT]["refunds_micros"] == 0
    assert list(groups)[-1] == NO_PROJECT

    totals = {c["category"]: c["amount_micros"] for c in data["by_category"]}
    assert sum(g["usage_micros"] for g in groups.values()) == totals["usage"]
    assert sum(g["refunds_micros"] for g in groups.values()) == totals["refunds"]
    assert sum(g["net_micros"] for g in groups.values()) == totals["usage"] + totals["refunds"]
    assert data["by_project_reconciles"] is True
    assert data["reconciles"] is True

    plain = (await client.get("/api/statements", params={"user": pooled.email})).json()
    assert plain["by_project"] is None
    assert plain["lines"] == data["lines"]

    bad = await client.get("/api/statements", params={"user": pooled.email, "by": "planet"})
    assert bad.status_code == 422
    assert "not a grouping" in bad.json()["error"]["message"]


async def test_the_console_shows_the_statement_by_project(
    pooled: World, spent: dict[str, Any], browser: Any
) -> None:
    admin = await browser(role="admin")
    page = await admin.get(
        "/console/usage/statements", params={"user": pooled.email, "by": "project"}
    )
    assert page.status_code == 200, page.text
    assert 'id="statement-by-project"' in page.text
    assert "<td>apollo</td>" in page.text
    assert f"<td>{NO_PROJECT}</td>" in page.text
    assert "sum to the usage and refunds lines: yes" in page.text
    plain = await admin.get("/console/usage/statements", params={"user": pooled.email})
    assert 'id="statement-by-project"' not in plain.text


async def test_the_forecast_by_project_sums_to_the_workspace(
    client: httpx.AsyncClient,
    pooled: World,
    spent: dict[str, Any],
    act_as: Callable[[Actor], None],
    browser: Any,
) -> None:
    async with session_scope(pooled.runtime.db) as session:
        await projects_service.set_project_budget(
            session,
            OWNER,
            name="gemini",
            fields={"budget"},
            budget_micros=spent["records"][777].cost_micros,
        )
        await rollups.roll_up(session, lag=timedelta(0))
    act_as(OWNER)
    resp = await client.get("/api/usage/forecast", params={"by": "project"})
    assert resp.status_code == 200, resp.text
    workspace, *projects = resp.json()["items"]
    assert workspace["subject"] == "workspace"
    assert [p["label"] for p in projects] == ["apollo", "gemini", NO_PROJECT]
    assert {p["subject"] for p in projects} == {"project"}
    records = spent["records"]
    by_label = {p["label"]: p for p in projects}
    assert by_label["apollo"]["month_to_date_micros"] == (
        records[1000].cost_micros + records[3000].cost_micros
    )
    assert by_label[NO_PROJECT]["month_to_date_micros"] == records[12345].cost_micros
    for measure in ("month_to_date_micros", "window_spend_micros", "projected_month_spend_micros"):
        assert sum(p[measure] for p in projects) == workspace[measure], measure
    assert workspace["month_to_date_micros"] == sum(r.cost_micros for r in records.values())
    gemini = by_label["gemini"]
    assert gemini["budget_micros"] == records[777].cost_micros
    assert gemini["budget_reached_on"] is not None
    assert gemini["runway_days"] is None
    assert gemini["summary"].startswith("Project gemini is projected to spend ")
    assert by_label["apollo"]["budget_micros"] is None

    one = await client.get("/api/usage/forecast", params={"by": "project", "user": pooled.email})
    assert one.status_code == 422

    admin = await browser(role="admin")
    page = await admin.get("/console/usage/forecast", params={"by": "project"})
    assert page.status_code == 200, page.text
    assert "Project gemini is projected to spend" in page.text
