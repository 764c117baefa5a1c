"""Episode detectors end to end through the gateway (fake upstream) and the detection sweep:
requests for a model no account serves (`model_not_served`) or with no price (`model_unpriced`)
read from the refusal records, and `settlement_backlog` refusals (not recorded per request)
read from the counters each gateway process reports. One alert per episode; a quiet gap of
EPISODE_QUIET starts a new one; rules may name the events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.gateway.world import ANTHROPIC_MODEL, World

from spectra.alerts import episodes
from spectra.alerts.models import Alert, GatewayCounter
from spectra.alerts.schemas import RuleCreate
from spectra.alerts.service import add_rule
from spectra.alerts.wiring import run_detection
from spectra.audit.actor import local_actor
from spectra.db.session import read_scope, session_scope
from spectra.gateway import wiring as gateway_wiring
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime

OWNER = local_actor()
MINUTE = timedelta(minutes=1)


async def _ask(client: httpx.AsyncClient, world: World, model: str) -> httpx.Response:
    return await client.post(
        "/v1/messages",
        headers=world.headers(anthropic=True),
        json={"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
    )


async def _alerts(runtime: Runtime, event: str) -> list[Alert]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(
            select(Alert).where(Alert.event == event).order_by(Alert.created_at, Alert.id)
        )
        return list(rows.scalars().all())


async def _refused(
    client: httpx.AsyncClient, world: World, model: str, status: int, times: int = 1
) -> None:
    for _ in range(times):
        resp = await _ask(client, world, model)
        assert resp.status_code == status, resp.text
    await world.settle()


async def test_a_model_no_account_serves_alerts_once_per_episode(
    runtime: Runtime, world: World, client: httpx.AsyncClient, clock: datetime
) -> None:
    await world.recharge("5")
    assert await run_detection(runtime) == 0
    await _refused(client, world, ANTHROPIC_MODEL, 404, times=2)
    assert await run_detection(runtime) == 1
    assert await run_detection(runtime) == 0
    (alert,) = await _alerts(runtime, "model_not_served")
    assert (alert.subject_kind, alert.subject_id) == ("model", ANTHROPIC_MODEL)
    assert alert.title == f"No pool account serves {ANTHROPIC_MODEL}"
    assert alert.message.startswith(
        f"2 requests for {ANTHROPIC_MODEL} were refused since Nov 15 10:00 because no pool "
        "account serves the model (model_not_served)."
    )
    assert alert.data["count"] == 2

    # Still refused ten minutes later: the same episode, counted, no second alert.
    clock_module.advance(10 * MINUTE)
    await _refused(client, world, ANTHROPIC_MODEL, 404)
    assert await run_detection(runtime) == 0
    (alert,) = await _alerts(runtime, "model_not_served")
    assert alert.data["count"] == 3
    assert alert.data["last_seen"] == (clock + 10 * MINUTE).isoformat()

    # Quiet for longer than an episode's gap, then refused again: a new episode, a new alert.
    clock_module.advance(episodes.EPISODE_QUIET + MINUTE)
    assert await run_detection(runtime) == 0
    await _refused(client, world, ANTHROPIC_MODEL, 404)
    assert await run_detection(runtime) == 1
    first, second = await _alerts(runtime, "model_not_served")
    assert first.id == alert.id
    assert second.data["count"] == 1
    assert second.message.startswith(f"1 request for {ANTHROPIC_MODEL} was refused since ")


async def test_a_model_without_a_price_alerts_once(
    runtime: Runtime, pooled: World, client: httpx.AsyncClient, clock: datetime
) -> None:
    await _refused(client, pooled, "claude-nobody-knows-1", 402, times=3)
    await _refused(client, pooled, "claude-nobody-knows-2", 402)
    assert await run_detection(runtime) == 2
    assert await run_detection(runtime) == 0
    alerts = {str(a.subject_id): a for a in await _alerts(runtime, "model_unpriced")}
    assert sorted(alerts) == ["claude-nobody-knows-1", "claude-nobody-knows-2"]
    alert = alerts["claude-nobody-knows-1"]
    assert alert.title == "claude-nobody-knows-1 has no price"
    assert alert.data["count"] == 3
    assert "spectra prices set claude-nobody-knows-1" in alert.message
    assert await _alerts(runtime, "model_not_served") == []


def _counter_job(runtime: Runtime) -> Any:
    (job,) = [j for j in runtime.jobs.jobs if j.name.startswith(gateway_wiring.COUNTERS_JOB)]
    return job


async def _counters(runtime: Runtime) -> dict[str, int]:
    async with read_scope(runtime.db) as session:
        rows = (await session.execute(select(GatewayCounter))).scalars().all()
    return {r.process: r.value for r in rows if r.name == episodes.BACKLOG_COUNTER}


async def test_settlement_backlog_refusals_reach_the_sweep_through_the_counters(
    runtime: Runtime,
    pooled: World,
    client: httpx.AsyncClient,
    clock: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gw = gateway_wiring.current()
    assert gw is not None
    job = _counter_job(runtime)
    await job.run()
    assert await _counters(runtime) == {}  # nothing refused: nothing written

    monkeypatch.setattr(runtime.committer, "max_queue", 0)
    monkeypatch.setattr(gw.settings, "commit_backlog_wait", 0.0)
    for _ in range(2):
        resp = await _ask(client, pooled, ANTHROPIC_MODEL)
        assert resp.status_code == 503
        assert resp.json()["error"]["reason_code"] == "settlement_backlog"
    monkeypatch.setattr(runtime.committer, "max_queue", 10_000)
    # Not yet reported: the sweep in any process sees nothing until the process reports.
    assert await run_detection(runtime) == 0
    await job.run()
    assert await _counters(runtime) == {runtime.jobs.holder: 2}
    assert await gw.report_counters(runtime.db, runtime.jobs.holder) == 0  # unchanged: no write
    # Another gateway process reports its own refusals in the same episode.
    async with session_scope(runtime.db) as session:
        await episodes.report_counters(
            session, "other-host:1:abc", {episodes.BACKLOG_COUNTER: 5}, clock
        )
    assert await run_detection(runtime) == 1
    assert await run_detection(runtime) == 0
    (alert,) = await _alerts(runtime, "settlement_backlog")
    assert alert.title == "The gateway refuses requests: settlement backlog"
    assert alert.message.startswith(
        "Since Nov 15 10:00 2 gateway processes refused requests with settlement_backlog (7 so far)"
    )

    # Refused again after a quiet gap: a new episode.
    clock_module.advance(episodes.EPISODE_QUIET + MINUTE)
    monkeypatch.setattr(runtime.committer, "max_queue", 0)
    assert (await _ask(client, pooled, ANTHROPIC_MODEL)).status_code == 503
    monkeypatch.setattr(runtime.committer, "max_queue", 10_000)
    await job.run()
    assert await _counters(runtime) == {runtime.jobs.holder: 3, "other-host:1:abc": 5}
    assert await run_detection(runtime) == 1
    first, second = await _alerts(runtime, "settlement_backlog")
    assert first.id == alert.id
    assert second.message.startswith("Since Nov 15 10:16 1 gateway process refused ")

    # A process that stopped reporting long ago is forgotten.
    clock_module.advance(episodes.COUNTER_RETENTION + MINUTE)
    await job.run()
    assert await run_detection(runtime) == 0
    assert await _counters(runtime) == {}


@pytest.mark.parametrize("event", ["model_not_served", "model_unpriced", "settlement_backlog"])
async def test_rules_may_name_the_episode_events(runtime: Runtime, event: str) -> None:
    async with session_scope(runtime.db) as session:
        rule = await add_rule(session, OWNER, data=RuleCreate(event=event, role="admin"))
    assert rule.event == event
