"""Forecast-based alerts: a group whose balance runway is below `alert_runway_days` alerts once a
month, and the daily digest lists each group's spend vs budget with the projection, once a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from tests.fakes.upstream import FakeUpstream
from tests.gateway.world import OPENAI_MODEL, World

from spectra.alerts.models import Alert
from spectra.alerts.wiring import run_forecast_alerts
from spectra.audit.actor import local_actor
from spectra.db.session import read_scope, session_scope
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime
from spectra.usage.jobs import run_rollups
from spectra.users import service as users_service
from spectra.workspace import service as workspace_service


async def test_runway_and_daily_digest_come_from_the_forecast_once_each(
    runtime: Runtime,
    world: World,
    fake: FakeUpstream,
    client: httpx.AsyncClient,
    clock: datetime,
) -> None:
    await world.add_account("openai-a", provider="openai", base_url=fake.url, models=["gpt-*"])
    await world.recharge("0.0005", group=True)
    async with session_scope(runtime.db) as session:
        await users_service.update_group(
            session, local_actor(), group=world.group_id, monthly_cap_micros=5_000_000
        )
        for name, value in (("alert_runway_days", "30"), ("alert_digest", "daily")):
            await workspace_service.set_setting(session, local_actor(), name=name, value=value)
    await world.sync()
    assert await run_forecast_alerts(runtime) == 1  # the digest; nothing spent, no runway yet
    for _ in range(3):
        response = await client.post(
            "/v1/chat/completions",
            headers=world.headers(),
            json={
                "model": OPENAI_MODEL,
                "max_tokens": 8,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        assert response.status_code == 200, response.text
    await world.settle()
    clock_module.advance(timedelta(hours=1))  # the forecast reads whole hours
    await run_rollups(runtime.db, lag=timedelta(0))
    assert await run_forecast_alerts(runtime) == 1
    assert await run_forecast_alerts(runtime) == 0
    async with read_scope(runtime.db) as session:
        alerts = {a.event: a for a in (await session.execute(select(Alert))).scalars().all()}
    assert sorted(alerts) == ["digest", "runway"]
    runway = alerts["runway"]
    assert runway.subject_id == str(world.group_id)
    assert "recharge it before" in runway.message
    digest = alerts["digest"]
    assert digest.title.startswith("Spectra daily digest: spend vs budget (")
    assert " of 5.00 USD this month, projected " in digest.message
