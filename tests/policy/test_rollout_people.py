"""A rollout's owner and watchers (API, audited) hear each automatic decision once, in their
inbox and by mail through the outbox; a budget alert raised for the wave pauses it (the clock
faked); a member in the cohort's group through a second membership is in the wave."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.factories import make_group, make_user
from tests.gateway.world import OWNER, World, build_world

from spectra.alerts import rollouts as alert_rollouts
from spectra.alerts import service as alerts_service
from spectra.alerts.models import Alert, AlertDelivery, Notification
from spectra.audit.models import AuditEvent
from spectra.db.session import read_scope, session_scope
from spectra.kit import clock as clock_module
from spectra.policy import repository, rollout_autopilot, rollout_timeline
from spectra.policy import rollouts as rollouts_service
from spectra.policy.models import RolloutEvent
from spectra.runtime import Runtime
from spectra.users import service as users_service
from spectra.users.models import User

OPUS = "claude-opus-4-8"
ANYTIME = {"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 0, "end_hour": 24}


async def _group_with_member(runtime: Runtime, tag: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    """A new group with one member: (group name, group id, member id)."""
    name = f"{tag}-{uuid.uuid4().hex[:6]}"
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name=name)
        user = await make_user(session, email=f"{name}@example.com", group=group)
    return name, group.id, user.id


async def _person(runtime: Runtime, tag: str) -> str:
    email = f"{tag}-{uuid.uuid4().hex[:6]}@example.com"
    async with session_scope(runtime.db) as session:
        await make_user(session, email=email, role="member")
    return email


async def _tick(runtime: Runtime, world: World) -> list[str]:
    made = await rollout_autopilot.run_autopilot(runtime.db)
    await world.sync()
    return [e.kind for e in made]


async def _told(runtime: Runtime, email: str) -> tuple[list[str], list[str]]:
    """(alert events in the person's inbox, subjects of the mails queued to them)."""
    async with read_scope(runtime.db) as session:
        inbox = await session.execute(
            select(Alert.event)
            .join(Notification, Notification.alert_id == Alert.id)
            .join(User, User.id == Notification.user_id)
            .where(User.email == email)
            .order_by(Alert.created_at, Alert.id)
        )
        mails = await session.execute(
            select(AlertDelivery.subject)
            .where(AlertDelivery.recipient == email)
            .order_by(AlertDelivery.created_at, AlertDelivery.id)
        )
        return list(inbox.scalars()), list(mails.scalars())


async def _raise_budget_alert(
    runtime: Runtime, *, member_id: uuid.UUID | None = None, group_id: uuid.UUID | None = None
) -> str:
    title = f"Budget threshold {uuid.uuid4().hex[:6]} reached 80%"
    async with session_scope(runtime.db) as session:
        await alerts_service.raise_alert(
            session,
            event="member_cap" if member_id else "group_cap",
            subject_kind="member_cap" if member_id else "group_cap",
            subject_id=str(member_id or group_id),
            dedupe_key=f"test:{uuid.uuid4()}",
            title=title,
            message=title,
            threshold_percent=80,
            member_id=member_id,
            group_id=group_id,
        )
    return title


async def _rollout(client: httpx.AsyncClient, name: str, groups: list[str], **extra: Any) -> None:
    cohorts = [
        {"name": f"wave {n + 1}", "groups": [g], "models": [OPUS]} for n, g in enumerate(groups)
    ]
    resp = await client.post("/api/rollouts", json={"name": name, "cohorts": cohorts})
    assert resp.status_code == 201, resp.text
    settings = {"window_hours": 1, "error_rate_pause": None, "refusal_rate_pause": None}
    resp = await client.put(
        f"/api/rollouts/{name}/autopilot",
        json={"on": True, "settings": {**settings, **ANYTIME, **extra}},
    )
    assert resp.status_code == 200, resp.text
    resp = await client.post(
        f"/api/rollouts/{name}/promote", json={"confirm_without_dry_run": True}
    )
    assert resp.status_code == 200, resp.text


async def test_owner_and_watchers_are_set_once_each_and_audited(
    client: httpx.AsyncClient, runtime: Runtime, app: object, act_as: Any
) -> None:
    await build_world(runtime)
    group, _, _ = await _group_with_member(runtime, "w1")
    owner, watcher = await _person(runtime, "owner"), await _person(runtime, "watcher")
    act_as(OWNER)
    name = "people rollout"
    resp = await client.post(
        "/api/rollouts",
        json={"name": name, "cohorts": [{"name": "w", "groups": [group], "models": [OPUS]}]},
    )
    assert resp.status_code == 201, resp.text
    resp = await client.put(f"/api/rollouts/{name}/owner", json={"user": owner})
    assert resp.status_code == 200, resp.text
    assert resp.json()["owner"]["email"] == owner
    for _ in range(2):
        resp = await client.post(f"/api/rollouts/{name}/watchers", json={"user": watcher})
        assert resp.status_code == 200, resp.text
    assert [w["email"] for w in resp.json()["watchers"]] == [watcher]
    resp = await client.post(f"/api/rollouts/{name}/watchers", json={"user": "nobody@x.example"})
    assert resp.status_code == 404, resp.text
    resp = await client.delete(f"/api/rollouts/{name}/watchers/{watcher}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["watchers"] == []
    resp = await client.delete(f"/api/rollouts/{name}/watchers/{watcher}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "rollout_watcher_not_found"
    shown = (await client.get(f"/api/rollouts/{name}")).json()
    people = (await client.get(f"/api/rollouts/{name}/people")).json()
    assert shown["owner_id"] == people["owner"]["id"]
    async with read_scope(runtime.db) as session:
        actions = (
            (
                await session.execute(
                    select(AuditEvent.action)
                    .where(
                        AuditEvent.action.in_(
                            ("rollouts.owner", "rollouts.watch.add", "rollouts.watch.remove")
                        )
                    )
                    .order_by(AuditEvent.occurred_at)
                )
            )
            .scalars()
            .all()
        )
    # the second add changed nothing and wrote nothing
    assert list(actions) == ["rollouts.owner", "rollouts.watch.add", "rollouts.watch.remove"]


async def test_budget_alert_pauses_and_owner_and_watchers_hear_each_decision_once(
    client: httpx.AsyncClient, runtime: Runtime, app: object, clock: datetime, act_as: Any
) -> None:
    world = await build_world(runtime)
    w1, _, _ = await _group_with_member(runtime, "w1")
    w2, w2_group, w2_member = await _group_with_member(runtime, "w2")
    w3, _, _ = await _group_with_member(runtime, "w3")
    outsider = (await _group_with_member(runtime, "out"))[2]
    owner, watcher, gone = [await _person(runtime, t) for t in ("owner", "watcher", "gone")]
    # A second runtime in this process (the in-process CLI does this) installs the same reader
    # and listener again: an alert still counts once and each person is still told once.
    again = [
        rollout_autopilot.on_budget_alerts(alert_rollouts.budget_alerts_for),
        rollout_timeline.on_decision(alert_rollouts.rollout_decided),
    ]
    act_as(OWNER)
    name = "budget rollout"
    await _rollout(client, name, [w1, w2, w3], approval_above=0, budget_alerts_pause=True)
    await client.put(f"/api/rollouts/{name}/owner", json={"user": owner})
    for email in (owner, watcher, gone):  # the owner also watches: still told once
        await client.post(f"/api/rollouts/{name}/watchers", json={"user": email})
    await client.delete(f"/api/rollouts/{name}/watchers/{gone}")
    await _raise_budget_alert(runtime, member_id=w2_member)  # before wave 2 is promoted

    clock_module.advance(timedelta(hours=2))
    assert await _tick(runtime, world) == ["approval_needed"]
    assert (await client.post(f"/api/rollouts/{name}/approve")).status_code == 200
    assert await _tick(runtime, world) == ["promote"]

    # about someone outside the wave: does not count
    clock_module.advance(timedelta(minutes=5))
    await _raise_budget_alert(runtime, member_id=outsider)
    clock_module.advance(timedelta(minutes=5))
    assert await _tick(runtime, world) == []
    title = await _raise_budget_alert(runtime, group_id=w2_group)
    await _raise_budget_alert(runtime, member_id=w2_member)
    clock_module.advance(timedelta(minutes=5))
    assert await _tick(runtime, world) == ["pause"]
    assert await _tick(runtime, world) == []
    shown = (await client.get(f"/api/rollouts/{name}")).json()
    assert shown["status"] == "paused"
    async with read_scope(runtime.db) as session:
        pause = (
            await session.execute(select(RolloutEvent).where(RolloutEvent.kind == "pause"))
        ).scalar_one()
    assert pause.cohort == "wave 2"
    assert f"budget alerts: 2 since the promotion ({title}" in pause.explanation
    gate = pause.gates["gates"][-1]
    assert (gate["gate"], gate["outcome"], gate["cohort"]) == ("budget_alerts", "breached", 2)

    decisions = ["rollout_approval_needed", "rollout_promoted", "rollout_paused"]
    for email in (owner, watcher):
        inbox, mails = await _told(runtime, email)
        assert inbox == decisions
        assert len(mails) == 3
        assert "waits for an approval" in mails[0]
        assert "paused" in mails[2]
    assert await _told(runtime, gone) == ([], [])
    for remove in again:
        remove()


async def test_budget_alerts_do_not_pause_when_the_gate_is_off(
    client: httpx.AsyncClient, runtime: Runtime, app: object, clock: datetime, act_as: Any
) -> None:
    world = await build_world(runtime)
    w1, _, w1_member = await _group_with_member(runtime, "w1")
    w2, _, _ = await _group_with_member(runtime, "w2")
    act_as(OWNER)
    await _rollout(client, "quiet rollout", [w1, w2])
    clock_module.advance(timedelta(minutes=5))
    await _raise_budget_alert(runtime, member_id=w1_member)
    clock_module.advance(timedelta(minutes=5))
    assert await _tick(runtime, world) == []
    shown = (await client.get("/api/rollouts/quiet rollout")).json()
    assert shown["status"] == "active"


async def test_a_member_whose_second_group_is_the_cohorts_is_in_the_wave(
    client: httpx.AsyncClient, runtime: Runtime, app: object, act_as: Any
) -> None:
    await build_world(runtime)
    cohort_group, _, primary = await _group_with_member(runtime, "team")
    _, _, second = await _group_with_member(runtime, "home")
    async with session_scope(runtime.db) as session:
        await users_service.add_membership(session, OWNER, user=second, group=cohort_group)
    act_as(OWNER)
    name = "membership rollout"
    resp = await client.post(
        "/api/rollouts",
        json={"name": name, "cohorts": [{"name": "w", "groups": [cohort_group], "models": [OPUS]}]},
    )
    assert resp.status_code == 201, resp.text
    assert (
        await client.post(f"/api/rollouts/{name}/promote", json={"confirm_without_dry_run": True})
    ).status_code == 200
    async with read_scope(runtime.db) as session:
        detail = await rollouts_service.get_rollout(session, OWNER, rollout=name)
        _, in_groups, named = await rollouts_service.cohort_targets(session, detail.cohorts[0])
        waves = await rollout_timeline.member_waves(session, second)
        grants = await repository.member_grants(session, [primary, second])
    assert [u.id for u in in_groups] == [primary]
    assert [u.id for u in named] == [second]
    assert [w["cohort"] for w in waves] == ["w"]
    # group rules follow the primary group, so the second-group member gets the model as a grant
    assert grants.get(second) == (OPUS,)
    assert primary not in grants
    assert (await client.post(f"/api/rollouts/{name}/rollback")).status_code == 200
    async with read_scope(runtime.db) as session:
        assert not (await repository.member_grants(session, [second])).get(second)
        assert await rollout_timeline.member_waves(session, second) == []
