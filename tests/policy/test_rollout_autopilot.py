"""The autopilot end to end through the gateway, the clock faked: wave 1 healthy -> wave 2
promoted by the system at the next allowed hour (after a dry-run); wave 2's upstream fails for
the rollout's model -> paused, then rolled back, access and packages restored exactly; each
decision once, audited with its gate values, heard by the decision hook; API and CLI views."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.factories import make_group, make_user
from tests.fakes.upstream import Fail, FakeUpstream
from tests.gateway.world import OWNER, UPSTREAM_KEY, World, build_world

from spectra.alerts.models import Alert, AlertDelivery, Notification
from spectra.audit.models import AuditEvent
from spectra.db.session import Session, read_scope, session_scope
from spectra.keys import service as keys_service
from spectra.kit import clock as clock_module
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.packages.models import PackageAssignment
from spectra.packages.schemas import PackageCreate
from spectra.policy import drafts as drafts_service
from spectra.policy import rollout_autopilot, rollout_timeline
from spectra.policy import service as policy_service
from spectra.policy.models import Rollout, RolloutEvent
from spectra.policy.schemas import GroupPolicyChange
from spectra.runtime import Runtime
from spectra.users.models import User

OPUS = "claude-opus-4-8"
SONNET = "claude-sonnet-4-5"


async def _member(runtime: Runtime, group: str | None) -> tuple[str, str]:
    """A member (in a new group named `group`) with a key and $20; (group name, key secret)."""
    name = group or f"g-{uuid.uuid4().hex[:6]}"
    async with session_scope(runtime.db) as session:
        made = await make_group(session, name=name)
        user = await make_user(session, email=f"{name}@example.com", group=made)
        _, secret = await keys_service.create_key(session, OWNER, user_id=user.id, name="k")
        await ledger_service.recharge(
            session,
            OWNER,
            user_id=user.id,
            amount=parse_amount("20"),
            memo="test",
            idempotency_key=f"r:{uuid.uuid4()}",
        )
        draft = await drafts_service.create_draft(
            session,
            OWNER,
            group=name,
            change=GroupPolicyChange(allowed_models=["claude-sonnet-*"], denied_models=[OPUS]),
        )
        await drafts_service.publish_draft(
            session, OWNER, draft_id=draft.id, confirm_without_dry_run=True
        )
    return name, secret


async def _ask(
    client: httpx.AsyncClient, world: World, secret: str, model: str, n: int
) -> list[int]:
    """`n` requests as the key's member; their usage records committed before returning."""
    codes = []
    for _ in range(n):
        resp = await client.post(
            "/v1/messages",
            headers={"x-api-key": secret, "anthropic-version": "2023-06-01"},
            json={
                "model": model,
                "max_tokens": 20,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        codes.append(resp.status_code)
    await world.settle()
    return codes


async def _policy(runtime: Runtime, group: str) -> dict[str, Any]:
    async with read_scope(runtime.db) as session:
        data = await policy_service.get_group_policy(session, OWNER, group=group)
    return {k: v for k, v in data.items() if not k.startswith("spent_this_month")}


async def _kinds(runtime: Runtime) -> list[str]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(
            select(RolloutEvent.kind).where(RolloutEvent.kind != "gates").order_by(RolloutEvent.at)
        )
        return list(rows.scalars())


async def _tick(runtime: Runtime, world: World) -> list[str]:
    await world.settle()
    made = await rollout_autopilot.run_autopilot(runtime.db)
    await world.sync()
    return [e.kind for e in made]


async def test_three_waves_promote_pause_and_roll_back_by_themselves(
    client: httpx.AsyncClient,
    runtime: Runtime,
    app: object,
    fake: FakeUpstream,
    clock: datetime,
    act_as: Any,
) -> None:
    assert clock.weekday() == 6  # Sunday 10:00 UTC: outside the allowed days
    world = await build_world(runtime)
    await world.add_account("anthropic-a", provider="anthropic", base_url=fake.url, models=["*"])
    assert UPSTREAM_KEY
    _, rest = await _member(runtime, None)
    w1, w1_key = await _member(runtime, None)
    w2, w2_key = await _member(runtime, None)
    w3, _ = await _member(runtime, None)
    package = f"Opus-{uuid.uuid4().hex[:4]}"
    async with session_scope(runtime.db) as writer:
        await packages_service.create_package(
            writer,
            OWNER,
            data=PackageCreate.model_validate(
                {"name": package, "allowance": "5", "period": "monthly", "model_patterns": ["*"]}
            ),
        )
    before = await _policy(runtime, w2)
    heard: list[str] = []

    async def listener(session: Session, rollout: Rollout, event: RolloutEvent) -> None:
        heard.append(event.kind)

    remove = rollout_timeline.on_decision(listener)
    act_as(OWNER)
    name = "Opus rollout"
    resp = await client.post(
        "/api/rollouts",
        json={
            "name": name,
            "cohorts": [
                {"name": "wave 1", "groups": [w1], "models": [OPUS]},
                {"name": "wave 2", "groups": [w2], "models": [OPUS], "package": package},
                {"name": "wave 3", "groups": [w3], "models": [OPUS]},
            ],
        },
    )
    assert resp.status_code == 201, resp.text
    watcher = f"watcher-{uuid.uuid4().hex[:6]}@example.com"
    async with session_scope(runtime.db) as writer:
        await make_user(writer, email=watcher, role="member")
    resp = await client.post(f"/api/rollouts/{name}/watchers", json={"user": watcher})
    assert resp.status_code in (200, 201), resp.text
    settings = {
        "window_hours": 1,
        "min_requests": 5,
        "error_rate_pause": "20",
        "error_rate_rollback": "50",
        "refusal_rate_pause": None,
    }
    resp = await client.put(
        f"/api/rollouts/{name}/autopilot", json={"on": True, "settings": settings}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["autopilot"] is True
    resp = await client.post(
        f"/api/rollouts/{name}/promote", json={"confirm_without_dry_run": True}
    )
    assert resp.status_code == 200, resp.text
    await world.sync()

    # wave 1 healthy, next to a healthy baseline; gates hold but Sunday is not allowed
    assert await _ask(client, world, rest, SONNET, 6) == [200] * 6
    assert await _ask(client, world, w1_key, OPUS, 6) == [200] * 6
    assert await _ask(client, world, w2_key, OPUS, 1) == [403]
    clock_module.advance(timedelta(hours=1))
    assert await _tick(runtime, world) == []
    assert await _kinds(runtime) == ["autopilot_on", "scheduled"]

    # Monday 09:00, the next allowed hour: promoted by the system, dry-run first
    monday = clock_module.advance(timedelta(hours=22))
    assert (monday.weekday(), monday.hour) == (0, 9)
    assert await _tick(runtime, world) == ["promote"]
    assert await _tick(runtime, world) == []
    assert await _ask(client, world, w2_key, OPUS, 2) == [200, 200]
    async with read_scope(runtime.db) as session:
        promote = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "rollouts.promote", AuditEvent.actor_label == "system"
                )
            )
        ).scalar_one()
        held = (await session.execute(select(PackageAssignment))).scalars().all()
    assert promote.details is not None
    assert promote.details["cohort"] == "wave 2"
    assert promote.details["dry_run"]["members_gaining"] == 1
    assert [a.status for a in held] == ["active"]

    # wave 2's upstream starts failing for the model: 2 of 6 -> paused, not rolled back
    fake.script(Fail("invalid_request"), Fail("invalid_request"))
    assert await _ask(client, world, w2_key, OPUS, 4) == [400, 400, 200, 200]
    clock_module.advance(timedelta(minutes=10))
    assert await _tick(runtime, world) == ["pause"]
    resp = await client.get(f"/api/rollouts/{name}")
    assert resp.json()["status"] == "paused"
    assert (await _policy(runtime, w2))["allowed_models"] == ["claude-sonnet-*", OPUS]

    # worse: 8 of 12 failed -> past the rollback bound -> rolled back exactly
    fake.script(*[Fail("invalid_request")] * 6)
    assert await _ask(client, world, w2_key, OPUS, 6) == [400] * 6
    clock_module.advance(timedelta(minutes=10))
    assert await _tick(runtime, world) == ["rollback"]
    assert await _tick(runtime, world) == []
    assert await _policy(runtime, w2) == before
    assert await _ask(client, world, w2_key, OPUS, 1) == [403]
    async with read_scope(runtime.db) as session:
        statuses = (await session.execute(select(PackageAssignment.status))).scalars().all()
        events = {
            e.action: e
            for e in (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action.like("rollouts.autopilot.%"))
                )
            ).scalars()
        }
    assert statuses == ["cancelled"]
    assert sorted(events) == [
        "rollouts.autopilot.pause",
        "rollouts.autopilot.promote",
        "rollouts.autopilot.rollback",
    ]
    rollback = events["rollouts.autopilot.rollback"].details
    assert rollback is not None
    (gate,) = rollback["gates"]["gates"]
    assert (gate["gate"], gate["outcome"], gate["cohort"], gate["requests"]) == (
        "error_rate",
        "rollback",
        6666,
        12,
    )
    assert "error rate 66.66% vs baseline 0.00%" in gate["explanation"]
    assert heard == ["promote", "pause", "rollback"]
    remove()
    async with read_scope(runtime.db) as session:
        raised = (
            await session.execute(
                select(Alert.event, Alert.title)
                .where(Alert.event.like("rollout_%"))
                .order_by(Alert.created_at)
            )
        ).all()
    # each decision reaches the alert channels and inboxes once
    assert [event for event, _ in raised] == [
        "rollout_promoted",
        "rollout_paused",
        "rollout_rolled_back",
    ]
    assert "wave 2" in raised[0][1]
    # ... and the watcher hears each of them once, the rollback included: inbox and mail
    async with read_scope(runtime.db) as session:
        inbox = (
            await session.execute(
                select(Alert.event)
                .join(Notification, Notification.alert_id == Alert.id)
                .join(User, User.id == Notification.user_id)
                .where(User.email == watcher)
                .order_by(Alert.created_at, Alert.id)
            )
        ).scalars()
        mails = (
            await session.execute(
                select(AlertDelivery.subject)
                .where(AlertDelivery.recipient == watcher)
                .order_by(AlertDelivery.created_at, AlertDelivery.id)
            )
        ).scalars()
        inbox_events, mail_subjects = list(inbox), list(mails)
    assert inbox_events == ["rollout_promoted", "rollout_paused", "rollout_rolled_back"]
    assert len(mail_subjects) == 3
    assert "rolled back" in mail_subjects[2].lower()

    resp = await client.get(f"/api/rollouts/{name}/timeline")
    assert resp.status_code == 200, resp.text
    timeline = resp.json()
    decisions = [(e["kind"], e["cohort"], e["actor"]) for e in timeline["events"]]
    assert [d for d in decisions if d[0] != "gates"] == [
        ("autopilot_on", None, OWNER.label),
        ("scheduled", "wave 2", "system"),
        ("promote", "wave 2", "system"),
        ("pause", "wave 2", "system"),
        ("rollback", "wave 2", "system"),
    ]
    assert any(e["kind"] == "gates" and e["cohort"] == "wave 1" for e in timeline["events"])
    assert [c["status"] for c in timeline["rollout"]["cohorts"]] == [
        "promoted",
        "rolled_back",
        "pending",
    ]


async def test_a_large_wave_waits_for_a_persons_approval(
    client: httpx.AsyncClient, runtime: Runtime, app: object, clock: datetime, act_as: Any
) -> None:
    world = await build_world(runtime)
    w1, _ = await _member(runtime, None)
    w2, _ = await _member(runtime, None)
    act_as(OWNER)
    name = "approved rollout"
    cohorts = [
        {"name": "wave 1", "groups": [w1], "models": [OPUS]},
        {"name": "wave 2", "groups": [w2], "models": [OPUS]},
    ]
    assert (await client.post("/api/rollouts", json={"name": name, "cohorts": cohorts})).is_success
    for bad in (
        {"error_rate_pause": "5", "error_rate_rollback": "2"},
        {"error_rate_pause": "1.234"},
    ):
        resp = await client.put(
            f"/api/rollouts/{name}/autopilot", json={"on": True, "settings": bad}
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == "policy_change_invalid"
    settings = {
        "window_hours": 1,
        "error_rate_pause": None,
        "refusal_rate_pause": None,
        "days": [0, 1, 2, 3, 4, 5, 6],
        "start_hour": 0,
        "end_hour": 24,
        "approval_above": 0,
    }
    resp = await client.put(
        f"/api/rollouts/{name}/autopilot", json={"on": True, "settings": settings}
    )
    assert resp.status_code == 200, resp.text
    await client.post(f"/api/rollouts/{name}/promote", json={"confirm_without_dry_run": True})
    clock_module.advance(timedelta(hours=2))
    assert await _tick(runtime, world) == ["approval_needed"]
    assert await _tick(runtime, world) == []
    resp = await client.post(f"/api/rollouts/{name}/approve")
    assert resp.status_code == 200, resp.text
    assert (resp.json()["kind"], resp.json()["cohort"]) == ("approved", "wave 2")
    resp = await client.post(f"/api/rollouts/{name}/approve")
    assert resp.status_code == 422
    assert await _tick(runtime, world) == ["promote"]
    shown = (await client.get(f"/api/rollouts/{name}")).json()
    assert [c["status"] for c in shown["cohorts"]] == ["promoted", "promoted"]
    assert shown["status"] == "completed"
