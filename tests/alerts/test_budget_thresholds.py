"""Spend driven through the gateway (real HTTP through the ASGI app, fake upstream) across 50%,
80% and 100% of a group cap raises exactly three alerts, once each; a member's own cap and
package allowance alerts reach their inbox, which they read over the API."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from tests.gateway.world import OPENAI_MODEL, World, expected_cost

from spectra.alerts import deliver
from spectra.alerts import service as alerts_service
from spectra.alerts.models import Alert, AlertDelivery, Notification
from spectra.alerts.schemas import ChannelCreate, RuleCreate
from spectra.audit.actor import local_actor, user_actor
from spectra.db.session import read_scope, session_scope
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.workspace.cache import settings_cache

from .receivers import http_receiver, until

COST = expected_cost(12, 4)
"""What each default fake reply costs (12 input, 4 output tokens), micros."""


async def _chat(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        "/v1/chat/completions",
        headers=world.headers(),
        json={
            "model": OPENAI_MODEL,
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )


async def _alerts(runtime: Runtime, event: str) -> list[Alert]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(
            select(Alert).where(Alert.event == event).order_by(Alert.created_at)
        )
        return list(rows.scalars().all())


async def test_a_group_cap_crossed_at_50_80_and_100_percent_alerts_three_times_once_each(
    runtime: Runtime, pooled: World, client: httpx.AsyncClient
) -> None:
    async with session_scope(runtime.db) as session:
        await users_service.update_group(
            session, local_actor(), group=pooled.group_id, monthly_cap_micros=10 * COST
        )
    await pooled.sync()
    async with http_receiver() as (hits, url):
        async with session_scope(runtime.db) as session:
            await alerts_service.add_channel(
                session,
                local_actor(),
                data=ChannelCreate(name="ops-slack", kind="slack", target=f"{url}/slack/T1"),
            )
            await alerts_service.add_rule(
                session, local_actor(), data=RuleCreate(event="group_cap", channel="ops-slack")
            )
        statuses = []
        for _ in range(13):
            statuses.append((await _chat(client, pooled)).status_code)
            await pooled.settle()
        assert statuses[:10] == [200] * 10
        alerts = await _alerts(runtime, "group_cap")
        assert [a.threshold_percent for a in alerts] == [50, 80, 100]
        assert alerts[0].data["spent_micros"] == 5 * COST
        assert alerts[1].data["spent_micros"] == 8 * COST
        assert alerts[2].data["spent_micros"] == 10 * COST
        deliverer = deliver.current()
        assert deliverer is not None
        await deliverer.deliver_due()
        await until(lambda: len(hits) >= 3)
        await deliverer.deliver_due()
        assert len(hits) == 3
        assert {h.path for h in hits} == {"/slack/T1"}
    async with read_scope(runtime.db) as session:
        outcomes = (await session.execute(select(AlertDelivery.status))).scalars().all()
    assert sorted(outcomes) == ["delivered"] * 3


async def test_a_member_sees_their_own_allowance_alert_in_their_inbox(
    runtime: Runtime, pooled: World, client: httpx.AsyncClient, act_as: object
) -> None:
    await pooled.give_package(
        "Starter", allowance=f"{10 * COST / 1_000_000:.6f}", patterns=["gpt-*"]
    )
    for _ in range(8):
        assert (await _chat(client, pooled)).status_code == 200
        await pooled.settle()
    alerts = await _alerts(runtime, "package_allowance")
    assert [a.threshold_percent for a in alerts] == [50, 80]
    assert alerts[1].member_id == pooled.user_id
    assert alerts[1].message.startswith("80% of your Starter allowance is used, it resets ")
    member = user_actor(user_id=pooled.user_id, email=pooled.email, role="member", via="session")
    act_as(member)  # type: ignore[operator]
    inbox = (await client.get("/api/me/notifications")).json()
    assert inbox["unread"] == 2
    assert inbox["items"][0]["message"] == alerts[1].message
    marked = await client.post("/api/me/notifications/read", json={})
    assert marked.json() == {"marked": 2}
    assert (await client.get("/api/me/notifications")).json()["unread"] == 0
    async with read_scope(runtime.db) as session:
        own = (
            (
                await session.execute(
                    select(Notification).where(Notification.user_id == pooled.user_id)
                )
            )
            .scalars()
            .all()
        )
    assert len(own) == 2
    assert settings_cache.current.alert_threshold_list == (50, 80, 100)
