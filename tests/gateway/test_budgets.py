"""Key and project budgets through the gateway (real HTTP through the ASGI app): hard, soft and
approval modes, concurrent requests against a hard budget, project attribution by key and by
`x-spectra-project`, and the project report against the ledger."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from tests.factories import make_user
from tests.fakes.upstream import FakeUpstream, Reply

from spectra.audit.actor import user_actor
from spectra.budgets import projects as projects_service
from spectra.budgets import service as budgets_service
from spectra.budgets.schemas import KeyBudgetChange
from spectra.db.session import read_scope, session_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.kit import clock as clock_module
from spectra.ledger.models import LedgerPosting
from spectra.policy import service as policy_service
from spectra.policy.budget_state import budget_states
from spectra.usage import exports, reports, rollups

from .world import ANTHROPIC_MODEL, OWNER, World

MESSAGES = [{"role": "user", "content": "hi"}]


async def _ask(
    client: httpx.AsyncClient,
    world: World,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        "/v1/messages",
        headers={**world.headers(anthropic=True), **(headers or {})},
        json={"model": ANTHROPIC_MODEL, "max_tokens": 100, "messages": MESSAGES, **extra},
    )


def _reason(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["reason_code"])


async def _set_budget(world: World, **fields: Any) -> None:
    async with session_scope(world.runtime.db) as session:
        await budgets_service.set_key_budget(
            session, OWNER, key_id=world.key_id, changes=KeyBudgetChange.model_validate(fields)
        )
    await world.sync()


async def _spent(world: World) -> int:
    await world.settle()
    return sum(r.cost_micros for r in await world.records())


async def test_a_key_at_its_daily_budget_is_refused_and_explain_names_the_key_budget(
    client: httpx.AsyncClient, pooled: World
) -> None:
    assert (await _ask(client, pooled)).status_code == 200
    spent = await _spent(pooled)
    assert spent > 0
    await _set_budget(pooled, day=f"{spent / 1_000_000:.6f}")
    resp = await _ask(client, pooled)
    assert resp.status_code == 402
    assert _reason(resp) == "key_budget_exhausted"
    assert "daily budget" in resp.json()["error"]["message"]
    await pooled.settle()
    refused = [r for r in await pooled.records() if r.status == "refused"]
    assert [(r.refusal_reason, r.refusal_rule) for r in refused] == [
        ("key_budget_exhausted", "key_budget")
    ]
    async with read_scope(pooled.runtime.db) as session:
        decision = await policy_service.explain(
            session, OWNER, user=pooled.email, model=ANTHROPIC_MODEL, key_id=pooled.key_id
        )
    assert not decision.allowed
    assert decision.reason_code == "key_budget_exhausted"
    assert decision.deciding_rule == "key_budget"
    [step] = [s for s in decision.trace if s.outcome == "deny"]
    assert (step.rule, step.outcome) == ("key_budget", "deny")
    assert step.inputs["period"] == "day"
    assert step.inputs["spent_micros"] == spent


async def test_a_request_whose_estimate_would_pass_a_hard_budget_is_refused(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _set_budget(pooled, day="0.000100")
    resp = await _ask(client, pooled)
    assert resp.status_code == 402
    assert _reason(resp) == "key_budget_exhausted"
    assert "would cost about" in resp.json()["error"]["message"]
    assert await _spent(pooled) == 0


async def test_concurrent_requests_cannot_pass_a_hard_budget(
    client: httpx.AsyncClient, pooled: World, fake: FakeUpstream
) -> None:
    # Each request reports 100 output tokens (its max_tokens), so its real cost is close to
    # its estimate: without the in-flight reservation all ten would pass the budget together.
    gate = asyncio.Event()
    fake.default = Reply(output_tokens=100, pieces=3, text="abc", gate=gate)
    budget = 5_000
    await _set_budget(pooled, day="0.005000")
    tasks = [asyncio.create_task(_ask(client, pooled, stream=True)) for _ in range(10)]
    deadline = asyncio.get_running_loop().time() + 30
    while sum(t.done() for t in tasks) + len(fake.requests) < 10:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    gate.set()
    answers = await asyncio.gather(*tasks)
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert served
    assert refused
    assert {_reason(a) for a in refused} == {"key_budget_exhausted"}
    total = await _spent(pooled)
    assert total <= budget
    assert len(served) == len(fake.requests)
    # After settlement the reservation is gone and spend is what was charged.
    gw = gateway_wiring.current()
    assert gw is not None
    budgets = gw.policy.spend.budgets
    assert budgets.pending(pooled.key_id) == 0
    assert budgets.key_spent(pooled.key_id, clock_module.utc_now())["day"] == total


async def test_a_soft_budget_allows_past_the_limit_and_the_trace_warns(
    client: httpx.AsyncClient, pooled: World
) -> None:
    assert (await _ask(client, pooled)).status_code == 200
    spent = await _spent(pooled)
    await _set_budget(pooled, day=f"{spent / 1_000_000:.6f}", mode="soft")
    assert (await _ask(client, pooled)).status_code == 200
    assert await _spent(pooled) > spent
    async with read_scope(pooled.runtime.db) as session:
        decision = await policy_service.explain(
            session, OWNER, user=pooled.email, model=ANTHROPIC_MODEL, key_id=pooled.key_id
        )
    assert decision.allowed
    steps = [s for s in decision.trace if s.rule == "key_budget"]
    assert [s.outcome for s in steps] == ["warn"]
    gw = gateway_wiring.current()
    assert gw is not None
    [state] = budget_states(gw.policy, now=clock_module.utc_now())
    assert (state.kind, state.subject_id, state.period, state.mode) == (
        "key",
        pooled.key_id,
        "day",
        "soft",
    )
    assert state.spent_micros == await _spent(pooled)
    assert state.percent > 100
    assert state.crossed() == (50, 80, 100)


async def test_approval_mode_refuses_until_an_extension_is_approved_and_after_it_expires(
    client: httpx.AsyncClient, pooled: World, clock: datetime
) -> None:
    assert (await _ask(client, pooled)).status_code == 200
    spent = await _spent(pooled)
    await _set_budget(pooled, day=f"{spent / 1_000_000:.6f}", mode="approval")
    assert _reason(await _ask(client, pooled)) == "key_budget_exhausted"
    member = user_actor(user_id=pooled.user_id, email=pooled.email, role="member", via="test")
    async with session_scope(pooled.runtime.db) as session:
        ext = await budgets_service.request_extension(
            session, member, key_id=pooled.key_id, amount_micros=1_000_000, reason="deadline"
        )
    await pooled.sync()
    assert _reason(await _ask(client, pooled)) == "key_budget_exhausted"
    async with session_scope(pooled.runtime.db) as session:
        await budgets_service.decide_extension(
            session,
            OWNER,
            extension_id=ext.id,
            approve=True,
            expires_at=clock + timedelta(hours=1),
        )
    await pooled.sync()
    assert (await _ask(client, pooled)).status_code == 200
    clock_module.advance(timedelta(hours=2))
    resp = await _ask(client, pooled)
    assert resp.status_code == 402
    assert _reason(resp) == "key_budget_exhausted"


async def _project(world: World, name: str, **kw: Any) -> uuid.UUID:
    async with session_scope(world.runtime.db) as session:
        view = await projects_service.create_project(session, OWNER, name=name, **kw)
    await world.sync()
    return view.id


async def test_a_member_cannot_attribute_to_another_teams_project(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _project(pooled, "apollo", header_allowed=True)
    async with session_scope(pooled.runtime.db) as session:
        other = await make_user(session)
        await projects_service.add_member(session, OWNER, name="apollo", email=other.email)
    await pooled.sync()
    resp = await _ask(client, pooled, headers={"x-spectra-project": "apollo"})
    assert resp.status_code == 403
    assert _reason(resp) == "project_not_allowed"
    unknown = await _ask(client, pooled, headers={"x-spectra-project": "no-such-project"})
    assert _reason(unknown) == "project_not_allowed"
    assert (
        unknown.json()["error"]["message"].replace("no-such-project", "apollo")
        == (resp.json()["error"]["message"])
    )
    await pooled.settle()
    assert all(r.project_id is None for r in await pooled.records())


async def test_the_header_attributes_a_members_request_where_the_project_allows_it(
    client: httpx.AsyncClient, pooled: World
) -> None:
    closed = await _project(pooled, "closed")
    opened = await _project(pooled, "open", header_allowed=True)
    async with session_scope(pooled.runtime.db) as session:
        for name in ("closed", "open"):
            await projects_service.add_member(session, OWNER, name=name, email=pooled.email)
    await pooled.sync()
    refused = await _ask(client, pooled, headers={"x-spectra-project": "closed"})
    assert _reason(refused) == "project_not_allowed"
    ok = await _ask(client, pooled, headers={"x-spectra-project": "open"})
    assert ok.status_code == 200
    await pooled.settle()
    served = [r for r in await pooled.records() if r.status == "ok"]
    assert [r.project_id for r in served] == [opened]
    assert closed != opened


async def test_usage_records_carry_the_keys_project_and_the_report_equals_the_ledger(
    client: httpx.AsyncClient, pooled: World
) -> None:
    project_id = await _project(pooled, "atlas")
    async with session_scope(pooled.runtime.db) as session:
        await projects_service.add_key(session, OWNER, name="atlas", key_id=pooled.key_id)
    await pooled.sync()
    for _ in range(3):
        assert (await _ask(client, pooled)).status_code == 200
    await pooled.settle()
    records = [r for r in await pooled.records() if r.status == "ok"]
    assert len(records) == 3
    assert {r.project_id for r in records} == {project_id}
    assert exports.record_dict(records[0])["project_id"] == project_id
    async with read_scope(pooled.runtime.db) as session:
        report = await projects_service.project_report(session, OWNER, name="atlas")
        txns = [r.ledger_transaction_id for r in records]
        debits = (
            await session.execute(
                select(func.sum(LedgerPosting.amount_micros)).where(
                    LedgerPosting.transaction_id.in_(txns), LedgerPosting.amount_micros < 0
                )
            )
        ).scalar_one()
    assert report.requests == 3
    assert report.cost_micros == sum(r.cost_micros for r in records)
    assert report.charged_micros == report.cost_micros == -int(debits)
    assert [line.label for line in report.by_user] == [pooled.email]
    assert report.by_model[0].cost_micros == report.cost_micros
    async with session_scope(pooled.runtime.db) as session:
        await rollups.roll_up(session, lag=timedelta(0))
    async with read_scope(pooled.runtime.db) as session:
        by_project = await reports.usage_report(session, OWNER, by="project")
    assert [(r.key, r.label, r.measures["cost_micros"]) for r in by_project.rows] == [
        (str(project_id), "atlas", report.cost_micros)
    ]


async def test_a_project_budget_refuses_once_the_project_has_spent_it(
    client: httpx.AsyncClient, pooled: World
) -> None:
    await _project(pooled, "tiny")
    async with session_scope(pooled.runtime.db) as session:
        await projects_service.add_key(session, OWNER, name="tiny", key_id=pooled.key_id)
    await pooled.sync()
    assert (await _ask(client, pooled)).status_code == 200
    spent = await _spent(pooled)
    async with session_scope(pooled.runtime.db) as session:
        await projects_service.set_project_budget(
            session, OWNER, name="tiny", fields={"budget"}, budget_micros=spent
        )
    await pooled.sync()
    resp = await _ask(client, pooled)
    assert resp.status_code == 402
    assert _reason(resp) == "project_budget_exhausted"
