"""Two OS processes run the rollout autopilot on one PostgreSQL database at the same moment:
the next wave is promoted once (one timeline row, one audited promotion, one assignment)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from tests.conftest import TEST_SECRET
from tests.fakes.upstream import FakeUpstream
from tests.gateway.world import OWNER, UPSTREAM_KEY, build_world
from tests.policy.test_rollout_autopilot import OPUS, SONNET, _ask, _member

from spectra.audit.models import AuditEvent
from spectra.db.session import read_scope, session_scope
from spectra.kit import clock as clock_module
from spectra.packages import service as packages_service
from spectra.packages.models import PackageAssignment
from spectra.packages.schemas import PackageCreate
from spectra.policy.models import RolloutEvent
from spectra.runtime import Runtime

pytestmark = [pytest.mark.postgres_only]

REPO = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(api_key=UPSTREAM_KEY) as upstream:
        yield upstream


async def test_two_processes_promote_the_next_wave_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    app: object,
    fake: FakeUpstream,
    clock: datetime,
    act_as: object,
) -> None:
    world = await build_world(runtime)
    await world.add_account("anthropic-a", provider="anthropic", base_url=fake.url, models=["*"])
    _, rest = await _member(runtime, None)
    w1, w1_key = await _member(runtime, None)
    w2, _ = await _member(runtime, None)
    package = f"Opus-{uuid.uuid4().hex[:4]}"
    async with session_scope(runtime.db) as session:
        await packages_service.create_package(
            session,
            OWNER,
            data=PackageCreate.model_validate(
                {"name": package, "allowance": "5", "period": "monthly", "model_patterns": ["*"]}
            ),
        )
    act_as(OWNER)  # type: ignore[operator]
    name = f"twice {uuid.uuid4().hex[:4]}"
    cohorts = [
        {"name": "wave 1", "groups": [w1], "models": [OPUS]},
        {"name": "wave 2", "groups": [w2], "models": [OPUS], "package": package},
    ]
    assert (await client.post("/api/rollouts", json={"name": name, "cohorts": cohorts})).is_success
    settings = {"window_hours": 1, "min_requests": 3, "days": [0, 1, 2, 3, 4, 5, 6]}
    resp = await client.put(
        f"/api/rollouts/{name}/autopilot", json={"on": True, "settings": settings}
    )
    assert resp.status_code == 200, resp.text
    resp = await client.post(
        f"/api/rollouts/{name}/promote", json={"confirm_without_dry_run": True}
    )
    assert resp.status_code == 200, resp.text
    await world.sync()
    assert await _ask(client, world, rest, SONNET, 3) == [200] * 3
    assert await _ask(client, world, w1_key, OPUS, 3) == [200] * 3
    now = clock_module.advance(timedelta(hours=1))

    procs = [
        subprocess.Popen(  # noqa: ASYNC220 - two OS processes are the point
            [
                sys.executable,
                "-m",
                "tests.scaleout._autopilot_worker",
                str(runtime.settings.database_url),
                now.isoformat(),
                TEST_SECRET,
                "3",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(int(o.strip().splitlines()[-1]) for o in outputs) == 1
    async with read_scope(runtime.db) as session:
        promotes = await session.scalar(select(func.count()).where(RolloutEvent.kind == "promote"))
        audited = await session.scalar(
            select(func.count()).where(
                AuditEvent.action == "rollouts.promote", AuditEvent.actor_label == "system"
            )
        )
        assignments = await session.scalar(select(func.count()).select_from(PackageAssignment))
    assert (promotes, audited, assignments) == (1, 1, 1)
