"""Rollouts: create, dry-run a promotion, promote in one audited action, roll back exactly,
gates and order, metrics; publishing without a dry-run needs confirmation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.factories import make_group, make_user
from tests.gateway.world import OWNER, World, build_world

from spectra.audit.models import AuditEvent
from spectra.db.session import read_scope, session_scope
from spectra.kit.clock import utc_now
from spectra.packages import service as packages_service
from spectra.packages.models import PackageAssignment
from spectra.packages.schemas import PackageCreate
from spectra.policy import drafts as drafts_service
from spectra.policy import rollouts as rollouts_service
from spectra.policy import service as policy_service
from spectra.policy.errors import CohortOrderError, DryRunRequiredError, RolloutGateError
from spectra.policy.schemas import GroupPolicyChange, RolloutCreate
from spectra.runtime import Runtime


async def _setup(runtime: Runtime) -> tuple[World, str, str]:
    """Group `pilot` (the world's member) limited to Sonnet; group `wave` with two members."""
    world = await build_world(runtime)
    wave = f"wave-{uuid.uuid4().hex[:6]}"
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name=wave)
        for n in range(2):
            await make_user(session, email=f"w{n}-{wave}@example.com", group=group)
        await packages_service.create_package(
            session,
            OWNER,
            data=PackageCreate.model_validate(
                {
                    "name": f"Opus-{wave}",
                    "allowance": "50",
                    "period": "monthly",
                    "model_patterns": ["claude-*"],
                }
            ),
        )
        pilot = (await policy_service.get_group_policy(session, OWNER, group=world.group_id))[
            "group"
        ]
        for name in (pilot, wave):
            draft = await drafts_service.create_draft(
                session,
                OWNER,
                group=name,
                change=GroupPolicyChange(
                    allowed_models=["claude-sonnet-*"], denied_models=["claude-opus-*"]
                ),
            )
            await drafts_service.publish_draft(
                session, OWNER, draft_id=draft.id, confirm_without_dry_run=True
            )
    await world.sync()
    return world, pilot, wave


async def _rollout(runtime: Runtime, pilot: str, wave: str, **gates: Any) -> str:
    name = f"Claude for all {uuid.uuid4().hex[:4]}"
    data = RolloutCreate.model_validate(
        {
            "name": name,
            "goal": "Opus for everyone",
            "cohorts": [
                {"name": "pilot", "groups": [pilot], "models": ["claude-opus-*"]},
                {
                    "name": "wave 1",
                    "groups": [wave],
                    "models": ["claude-opus-*"],
                    "package": f"Opus-{wave}",
                    "monthly_cap": "500",
                    "member_monthly_cap": "100",
                },
            ],
            **gates,
        }
    )
    async with session_scope(runtime.db) as session:
        await rollouts_service.create_rollout(session, OWNER, data=data)
    return name


async def _promote(runtime: Runtime, name: str, **kw: Any) -> None:
    async with session_scope(runtime.db) as session:
        await drafts_service.promote_cohort(session, OWNER, rollout=name, **kw)


async def _policy(runtime: Runtime, group: str) -> dict[str, Any]:
    async with read_scope(runtime.db) as session:
        return await policy_service.get_group_policy(session, OWNER, group=group)


async def _events(runtime: Runtime, action: str) -> list[AuditEvent]:
    async with read_scope(runtime.db) as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


class TestPromote:
    async def test_promotion_needs_a_dry_run_or_confirmation(self, runtime: Runtime) -> None:
        _, pilot, wave = await _setup(runtime)
        name = await _rollout(runtime, pilot, wave)
        with pytest.raises(DryRunRequiredError):
            await _promote(runtime, name)
        assert (await _policy(runtime, pilot))["denied_models"] == ["claude-opus-*"]

    async def test_dry_run_then_promote_applies_everything_in_one_audited_action(
        self, runtime: Runtime
    ) -> None:
        _, pilot, wave = await _setup(runtime)
        name = await _rollout(runtime, pilot, wave)
        await _promote(runtime, name, confirm_without_dry_run=True)
        async with session_scope(runtime.db) as session:
            draft = await drafts_service.create_draft(session, OWNER, rollout=name)
            draft = await drafts_service.dry_run(session, OWNER, draft_id=draft.id)
            result = draft.dry_run
        assert result is not None
        assert result["members_gaining"] == 2
        assert result["members_losing"] == 0
        assert {(c["model"], c["change"]) for c in result["access_changes"]} >= {
            ("claude-opus-4-8", "gain")
        }
        await _promote(runtime, name)
        after = await _policy(runtime, wave)
        assert after["allowed_models"] == ["claude-sonnet-*", "claude-opus-*"]
        assert after["denied_models"] == []
        assert (after["monthly_cap"], after["member_monthly_cap"]) == ("500.00", "100.00")
        assert after["default_package"] == f"Opus-{wave}"
        async with read_scope(runtime.db) as session:
            held = (await session.execute(select(PackageAssignment))).scalars().all()
        assert len(held) == 2
        (event,) = [
            e
            for e in await _events(runtime, "rollouts.promote")
            if _d(e.details)["cohort"] == "wave 1"
        ]
        assert _d(event.details)["dry_run"]["members_gaining"] == 2
        assert _d(event.details)["confirmed_without_dry_run"] is False
        assert len(_d(event.after)["assignments"]) == 2

    async def test_cohorts_go_in_order_and_wait_for_the_gate(self, runtime: Runtime) -> None:
        _, pilot, wave = await _setup(runtime)
        name = await _rollout(runtime, pilot, wave, min_days=3)
        with pytest.raises(CohortOrderError):
            await _promote(runtime, name, cohort="wave 1", confirm_without_dry_run=True)
        await _promote(runtime, name, confirm_without_dry_run=True)
        with pytest.raises(RolloutGateError):
            await _promote(runtime, name, confirm_without_dry_run=True)


class TestRollback:
    async def test_rollback_restores_the_state_before_exactly(self, runtime: Runtime) -> None:
        _, pilot, wave = await _setup(runtime)
        before = await _policy(runtime, wave)
        name = await _rollout(runtime, pilot, wave)
        await _promote(runtime, name, confirm_without_dry_run=True)
        await _promote(runtime, name, confirm_without_dry_run=True)
        async with session_scope(runtime.db) as session:
            with pytest.raises(CohortOrderError):
                await rollouts_service.rollback(session, OWNER, rollout=name, cohort="pilot")
        async with session_scope(runtime.db) as session:
            cohort = await rollouts_service.rollback(session, OWNER, rollout=name)
        assert cohort.name == "wave 1"
        restored = await _policy(runtime, wave)
        assert {k: v for k, v in restored.items() if k != "spent_this_month"} == {
            k: v for k, v in before.items() if k != "spent_this_month"
        }
        async with read_scope(runtime.db) as session:
            statuses = (await session.execute(select(PackageAssignment.status))).scalars().all()
        assert sorted(statuses) == ["cancelled", "cancelled"]
        (event,) = await _events(runtime, "rollouts.rollback")
        assert len(_d(event.after)["cancelled"]) == 2


class TestMetrics:
    async def test_metrics_per_cohort_before_and_after(self, runtime: Runtime) -> None:
        _, pilot, wave = await _setup(runtime)
        name = await _rollout(runtime, pilot, wave)
        await _promote(runtime, name, confirm_without_dry_run=True)
        async with read_scope(runtime.db) as session:
            data = await rollouts_service.rollout_metrics(session, OWNER, rollout=name)
        first, second = data["cohorts"]
        assert (first["status"], first["members"]) == ("promoted", 1)
        assert first["after"]["requests"] == 0
        assert second["after"] is None
        assert (second["members"], second["before"]["active_members"]) == (2, 0)


async def test_api_and_cli_shape(
    client: httpx.AsyncClient, runtime: Runtime, app: object, act_as: Any
) -> None:
    _, pilot, _wave = await _setup(runtime)
    act_as(OWNER)
    body = {
        "name": "api rollout",
        "cohorts": [{"name": "pilot", "groups": [pilot], "models": ["claude-opus-*"]}],
    }
    resp = await client.post("/api/rollouts", json=body)
    assert resp.status_code == 201, resp.text
    resp = await client.post("/api/rollouts/api rollout/promote", json={})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "dry_run_required"
    resp = await client.post("/api/policy/drafts", json={"rollout": "api rollout"})
    assert resp.status_code == 201, resp.text
    draft_id = resp.json()["id"]
    resp = await client.post(f"/api/policy/drafts/{draft_id}/dry-run", json={"days": 7})
    assert resp.status_code == 200, resp.text
    assert resp.json()["dry_run"]["members_gaining"] == 1
    resp = await client.post("/api/rollouts/api rollout/promote", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "promoted"
    resp = await client.get(f"/api/policy/drafts/{draft_id}")
    assert resp.json()["status"] == "published"
    resp = await client.get("/api/rollouts/api rollout/metrics")
    assert resp.status_code == 200
    resp = await client.get(f"/api/policy/groups/{pilot}")
    assert resp.json()["allowed_models"] == ["claude-sonnet-*", "claude-opus-*"]
    _ = utc_now() - timedelta(days=1)


def _d(value: dict[str, Any] | None) -> dict[str, Any]:
    assert value is not None
    return value
