"""Key and project budgets cross 50%, 80% and 100% through the gateway (real HTTP, fake
upstream, soft budgets so the requests keep going): the detection sweep raises each threshold
once per subject and period, a second sweep raises nothing, and the key's member finds the
key alert in their own inbox."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select
from tests.gateway.world import OPENAI_MODEL, OWNER, World, expected_cost

from spectra.alerts import budget_detect, detect
from spectra.alerts import service as alerts_service
from spectra.alerts.models import Alert
from spectra.audit.actor import user_actor
from spectra.budgets import projects as projects_service
from spectra.budgets import service as budgets_service
from spectra.budgets.schemas import KeyBudgetChange
from spectra.db.session import read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.runtime import Runtime
from spectra.workspace.cache import settings_cache

COST = expected_cost(12, 4)
"""What each default fake reply costs (12 input, 4 output tokens), micros."""


def _amount(micros: int) -> str:
    return str(Decimal(micros) / Decimal(1_000_000))


async def _sweep(runtime: Runtime) -> int:
    settings, now = settings_cache.current, utc_now()
    async with session_scope(runtime.db) as session:
        found = await budget_detect.key_budget_candidates(session, settings, now)
        found += await budget_detect.project_budget_candidates(session, settings, now)
        return await detect.raise_new(session, found, settings.time_zone)


async def _alerts(runtime: Runtime, event: str) -> list[Alert]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(
            select(Alert).where(Alert.event == event).order_by(Alert.created_at)
        )
        return list(rows.scalars().all())


async def test_key_and_project_budgets_alert_once_per_threshold(
    runtime: Runtime, pooled: World, client: httpx.AsyncClient
) -> None:
    async with session_scope(runtime.db) as session:
        await budgets_service.set_key_budget(
            session,
            OWNER,
            key_id=pooled.key_id,
            changes=KeyBudgetChange.model_validate({"day": _amount(10 * COST), "mode": "soft"}),
        )
        await projects_service.create_project(
            session, OWNER, name="atlas", budget_micros=20 * COST, mode="soft"
        )
        await projects_service.add_key(session, OWNER, name="atlas", key_id=pooled.key_id)
    await pooled.sync()

    async def spend(requests: int) -> None:
        for _ in range(requests):
            resp = await client.post(
                "/v1/chat/completions",
                headers=pooled.headers(),
                json={
                    "model": OPENAI_MODEL,
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
            assert resp.status_code == 200, resp.text
        await pooled.settle()

    await spend(4)  # key 40%, project 20%: nothing yet
    assert await _sweep(runtime) == 0
    await spend(1)  # key 50%
    assert await _sweep(runtime) == 1
    await spend(4)  # key 90% (80 reached), project 45%
    assert await _sweep(runtime) == 1
    await spend(3)  # key 120% (100 reached), project 60% (50 reached)
    assert await _sweep(runtime) == 2
    assert await _sweep(runtime) == 0  # once per threshold and period, not per sweep

    keys = await _alerts(runtime, "key_budget")
    assert [a.threshold_percent for a in keys] == [50, 80, 100]
    assert [a.data["spent_micros"] for a in keys] == [5 * COST, 9 * COST, 12 * COST]
    assert all(a.data["period"] == "day" for a in keys)
    projects = await _alerts(runtime, "project_budget")
    assert [a.threshold_percent for a in projects] == [50]
    assert projects[0].data["spent_micros"] == 12 * COST

    async with read_scope(runtime.db) as reader:
        member = user_actor(
            user_id=pooled.user_id, email=pooled.email, role="member", via="session"
        )
        unread, items = await alerts_service.inbox(reader, member)
    mine = [n for n in items if n["event"] == "key_budget"]
    assert len(mine) == 3
    assert unread >= 3
    assert "% of the day budget of your key" in mine[0]["message"]
