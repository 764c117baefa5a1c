"""Two real `spectra serve` processes on one PostgreSQL + Redis, spend driven through both at
once across 50%, 80% and 100% of a group cap: exactly three alerts, each delivered once to a
Slack receiver by the processes' outbox jobs (the dedupe key is unique in the database; the
outbox rows are claimed with SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.alerts.receivers import http_receiver
from tests.fakes.upstream import Reply
from tests.gateway.world import OWNER, expected_cost
from tests.support.redis import REDIS_URL, require_redis

from spectra.alerts import service as alerts_service
from spectra.alerts.models import Alert, AlertDelivery
from spectra.alerts.schemas import ChannelCreate, RuleCreate
from spectra.db.session import read_scope, session_scope
from spectra.usage.models import UsageRecord
from spectra.users import service as users_service

from .cluster import chat_body, cluster

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

COST = expected_cost(12, 4)
DEADLINE_S = 120.0
"""Generous: a crossing that two concurrent batches each saw only half of is caught by the
detection sweep (every 60 s)."""


async def test_two_processes_alert_each_threshold_of_a_group_cap_exactly_once(
    tmp_path: Path,
) -> None:
    require_redis()
    reply = Reply(input_tokens=12, output_tokens=4)
    async with (
        cluster(tmp_path, redis_url=REDIS_URL, default=reply) as cl,
        http_receiver() as (
            hits,
            url,
        ),
    ):
        await cl.world.recharge("5")
        async with session_scope(cl.runtime.db) as session:
            await users_service.update_group(
                session, OWNER, group=cl.world.group_id, monthly_cap_micros=10 * COST
            )
            await alerts_service.add_channel(
                session, OWNER, data=ChannelCreate(name="ops", kind="slack", target=f"{url}/s")
            )
            await alerts_service.add_rule(
                session, OWNER, data=RuleCreate(event="group_cap", channel="ops")
            )
        a, b = cl.start_server(), cl.start_server()
        await asyncio.gather(cl.wait_ready(a), cl.wait_ready(b))
        headers = {**cl.world.headers(), "content-type": "application/json"}
        ok = 0
        async with httpx.AsyncClient(timeout=60) as http:
            for _ in range(5):
                pair = await asyncio.gather(
                    *(
                        http.post(
                            f"{server.url}/v1/chat/completions",
                            content=json.dumps(chat_body(8)).encode(),
                            headers=headers,
                        )
                        for server in (a, b)
                    )
                )
                ok += sum(r.status_code == 200 for r in pair)
        assert ok == 10

        async def settled() -> tuple[int, list[int]]:
            async with read_scope(cl.runtime.db) as session:
                records = await session.scalar(
                    select(func.count()).select_from(UsageRecord).where(UsageRecord.cost_micros > 0)
                )
                levels = (
                    (
                        await session.execute(
                            select(Alert.threshold_percent)
                            .where(Alert.event == "group_cap")
                            .order_by(Alert.threshold_percent)
                        )
                    )
                    .scalars()
                    .all()
                )
            return int(records or 0), [int(p or 0) for p in levels]

        deadline = time.monotonic() + DEADLINE_S
        while (await settled()) != (10, [50, 80, 100]) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await settled() == (10, [50, 80, 100])
        while len(hits) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        async with read_scope(cl.runtime.db) as reader:
            while time.monotonic() < deadline:
                statuses = (await reader.execute(select(AlertDelivery.status))).scalars().all()
                if statuses.count("delivered") == 3:
                    break
                await asyncio.sleep(0.2)
        assert sorted(statuses) == ["delivered"] * 3
        assert len(hits) == 3
        texts = sorted(json.loads(h.body)["blocks"][0]["text"]["text"] for h in hits)
        assert [t.split(" reached ")[1] for t in texts] == [
            "100% of its monthly cap",
            "50% of its monthly cap",
            "80% of its monthly cap",
        ]
