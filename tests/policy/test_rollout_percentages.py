"""Percentage cohorts through the service: growing 10 % -> 25 % keeps the first members in, the
holdout and exclusions are never picked, a rollback restores the earlier wave exactly."""

from __future__ import annotations

import uuid

import pytest
from tests.factories import make_group, make_user
from tests.gateway.world import OWNER, build_world

from spectra.db.session import read_scope, session_scope
from spectra.policy import drafts as drafts_service
from spectra.policy import repository
from spectra.policy import rollouts as rollouts_service
from spectra.policy import service as policy_service
from spectra.policy.errors import PolicyChangeInvalidError
from spectra.policy.rollout_percent import in_holdout
from spectra.policy.schemas import GroupPolicyChange, RolloutCreate
from spectra.runtime import Runtime

MEMBERS = 40


async def _group(runtime: Runtime) -> tuple[str, list[uuid.UUID], str]:
    await build_world(runtime)
    name = f"eng-{uuid.uuid4().hex[:6]}"
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name=name)
        users = [
            await make_user(session, email=f"m{n}-{name}@example.com", group=group)
            for n in range(MEMBERS)
        ]
        draft = await drafts_service.create_draft(
            session, OWNER, group=name, change=GroupPolicyChange(allowed_models=["claude-sonnet-*"])
        )
        await drafts_service.publish_draft(
            session, OWNER, draft_id=draft.id, confirm_without_dry_run=True
        )
    return name, [u.id for u in users], f"m0-{name}@example.com"


async def _granted(runtime: Runtime, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with read_scope(runtime.db) as session:
        grants = await repository.member_grants(session, ids)
    return {u for u, models in grants.items() if "claude-opus-*" in models}


async def test_growing_a_percentage_keeps_the_first_wave_and_rollback_is_exact(
    runtime: Runtime,
) -> None:
    group, ids, excluded_email = await _group(runtime)
    data = RolloutCreate.model_validate(
        {
            "name": f"opus pct {uuid.uuid4().hex[:4]}",
            "holdout": "10",
            "cohorts": [
                {
                    "name": "ten",
                    "groups": [group],
                    "percent": "10",
                    "exclude_users": [excluded_email],
                    "models": ["claude-opus-*"],
                },
                {
                    "name": "forty",
                    "groups": [group],
                    "percent": "40",
                    "exclude_users": [excluded_email],
                    "models": ["claude-opus-*"],
                },
                {
                    "name": "all",
                    "groups": [group],
                    "percent": "100",
                    "exclude_users": [excluded_email],
                    "models": ["claude-opus-*"],
                },
            ],
        }
    )
    async with session_scope(runtime.db) as session:
        detail = await rollouts_service.create_rollout(session, OWNER, data=data)
    rollout_id = detail.rollout.id
    seen: list[set[uuid.UUID]] = []
    for _ in range(3):
        async with session_scope(runtime.db) as session:
            await drafts_service.promote_cohort(
                session, OWNER, rollout=data.name, confirm_without_dry_run=True
            )
        seen.append(await _granted(runtime, ids))
    ten, forty, everyone = seen
    assert ten <= forty <= everyone
    assert len(ten) < len(forty) < len(everyone)
    held = {u for u in ids if in_holdout(rollout_id, u, 1_000)}
    assert held
    assert not held & everyone
    assert ids[0] not in everyone
    assert everyone == set(ids) - held - {ids[0]}
    async with read_scope(runtime.db) as session:
        policy = await policy_service.get_group_policy(session, OWNER, group=group)
    assert policy["allowed_models"] == ["claude-sonnet-*"]  # a percentage widens no group
    async with session_scope(runtime.db) as session:
        await rollouts_service.rollback(session, OWNER, rollout=data.name)
    assert await _granted(runtime, ids) == forty
    async with session_scope(runtime.db) as session:
        await rollouts_service.rollback(session, OWNER, rollout=data.name)
    assert await _granted(runtime, ids) == ten


async def test_exclusions_need_a_percentage(runtime: Runtime) -> None:
    group, _, excluded_email = await _group(runtime)
    data = RolloutCreate.model_validate(
        {
            "name": "bad",
            "cohorts": [
                {"name": "a", "groups": [group], "exclude_users": [excluded_email], "models": ["x"]}
            ],
        }
    )
    with pytest.raises(PolicyChangeInvalidError):
        async with session_scope(runtime.db) as session:
            await rollouts_service.create_rollout(session, OWNER, data=data)
    async with read_scope(runtime.db) as session:
        assert await repository.get_rollout(session, "bad") is None
