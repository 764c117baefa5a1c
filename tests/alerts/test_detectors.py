"""The periodic detectors and the folded-in notices: approvals waiting longer than a day, keys
expiring within a week, a pool account that needs attention (its upstream refused the key),
a wallet falling below its threshold, and a broken audit chain; each alerts once."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from tests.factories import make_user
from tests.fakes.upstream import FakeUpstream
from tests.gateway.world import OPENAI_MODEL, World

from spectra.alerts.models import Alert, Notification
from spectra.alerts.wiring import run_detection
from spectra.audit import anchors as audit_anchors
from spectra.audit.actor import local_actor
from spectra.db.session import read_scope, session_scope
from spectra.keys import service as keys_service
from spectra.kit import clock as clock_module
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.pool.models import PoolAccount
from spectra.runtime import Runtime
from spectra.workspace import service as workspace_service

OWNER = local_actor()


async def _alerts(runtime: Runtime, event: str) -> list[Alert]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(select(Alert).where(Alert.event == event))
        return list(rows.scalars().all())


async def test_waiting_approvals_and_expiring_keys_alert_once(
    runtime: Runtime, clock: datetime
) -> None:
    async with session_scope(runtime.db) as session:
        member = await make_user(session)
        await workspace_service.set_setting(session, OWNER, name="four_eyes_threshold", value="100")
        await ledger_service.recharge(
            session,
            OWNER,
            user_id=member.id,
            amount=parse_amount("150"),
            memo="needs a second person",
            idempotency_key="detect-approval",
        )
        await keys_service.create_key(
            session, OWNER, user_id=member.id, name="ci", expires_at=clock + timedelta(days=10)
        )
    await runtime.feed.poll_once()
    assert await run_detection(runtime) == 0
    clock_module.advance(timedelta(hours=25))
    assert await run_detection(runtime) == 1
    (waiting,) = await _alerts(runtime, "approvals_waiting")
    assert waiting.title == "An approval has waited 25 hours"
    clock_module.advance(timedelta(days=3))
    assert await run_detection(runtime) == 1
    (expiring,) = await _alerts(runtime, "key_expiring")
    assert expiring.member_id == member.id
    assert expiring.message.startswith("Your key ci expires ")
    assert await run_detection(runtime) == 0
    async with read_scope(runtime.db) as session:
        own = (
            (await session.execute(select(Notification).where(Notification.user_id == member.id)))
            .scalars()
            .all()
        )
    assert [n.alert_id for n in own] == [expiring.id]


async def test_an_account_the_upstream_refuses_raises_pool_degraded_once(
    runtime: Runtime, world: World, fake: FakeUpstream, client: httpx.AsyncClient
) -> None:
    await world.add_account(
        "bad", provider="openai", base_url=fake.url, models=["gpt-*"], api_key="sk-wrong-key"
    )
    await world.recharge("5")
    await client.post(
        "/v1/chat/completions",
        headers=world.headers(),
        json={
            "model": OPENAI_MODEL,
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        await world.settle()
        async with read_scope(runtime.db) as session:
            state = await session.scalar(select(PoolAccount.state).where(PoolAccount.name == "bad"))
        if state == "needs_attention":
            break
        await asyncio.sleep(0.05)
    assert state == "needs_attention"
    assert await run_detection(runtime) == 1
    assert await run_detection(runtime) == 0
    (alert,) = await _alerts(runtime, "pool_degraded")
    assert alert.title == "Pool account bad needs attention"


async def test_a_wallet_below_its_threshold_alerts_its_member(
    runtime: Runtime, world: World
) -> None:
    async with session_scope(runtime.db) as session:
        await workspace_service.set_setting(session, OWNER, name="low_balance_threshold", value="5")
    await world.recharge("6")
    async with session_scope(runtime.db) as session:
        await ledger_service.adjust(
            session,
            OWNER,
            user_id=world.user_id,
            amount=-parse_amount("2"),
            reason="test debit",
            idempotency_key="detect-debit",
        )
    (alert,) = await _alerts(runtime, "wallet_low")
    assert alert.member_id == world.user_id
    assert alert.message == "Your wallet balance is 4.00 USD, below 5.00 USD."


async def test_a_broken_audit_chain_raises_audit_broken(runtime: Runtime) -> None:
    log = audit_anchors.current()
    assert log is not None
    await log.sinks["alerts"](audit_anchors.BROKEN_EVENT, {"event_id": "e1", "problem": "gap"})
    await log.sinks["alerts"](audit_anchors.BROKEN_EVENT, {"event_id": "e1", "problem": "gap"})
    (alert,) = await _alerts(runtime, "audit_broken")
    assert alert.message.startswith("The audit chain failed verification: gap")
