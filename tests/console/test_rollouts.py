"""Rollouts in the console: the list and a rollout's page render with cohort metrics; promote and
roll back go through the services (confirmation flag, CSRF, audit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.factories import make_group

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.policy import rollouts as rollouts_service
from spectra.policy.models import RolloutCohort
from spectra.policy.schemas import RolloutCreate
from spectra.runtime import Runtime


async def _rollout(runtime: Runtime) -> None:
    async with session_scope(runtime.db) as session:
        await make_group(session, name="Platform")
        data = RolloutCreate.model_validate(
            {
                "name": "opus",
                "goal": "Opus for platform",
                "cohorts": [{"name": "wave-1", "groups": ["Platform"], "models": ["claude-*"]}],
            }
        )
        await rollouts_service.create_rollout(session, local_actor(), data=data)


async def _status(runtime: Runtime) -> str:
    async with session_scope(runtime.db) as session:
        cohort = (await session.execute(select(RolloutCohort))).scalar_one()
        return cohort.status


async def test_the_list_and_the_rollout_page_show_the_cohorts(
    browser: Any, runtime: Runtime
) -> None:
    await _rollout(runtime)
    b = await browser(role="auditor")
    listing = await b.get("/console/rollouts")
    assert 'data-rollout-name="opus"' in listing.text
    page = await b.get("/console/rollouts/opus")
    assert page.status_code == 200, page.text
    assert 'data-cohort-name="wave-1"' in page.text
    assert 'id="promote-form"' not in page.text  # an auditor cannot promote


async def test_promote_without_a_dry_run_needs_the_confirmation(
    browser: Any, runtime: Runtime
) -> None:
    await _rollout(runtime)
    b = await browser(role="admin")
    refused = await b.post_form("/console/rollouts/opus/promote", {"cohort": "wave-1"})
    assert refused.status_code == 303
    assert await _status(runtime) == "pending"

    response = await b.post_form(
        "/console/rollouts/opus/promote", {"cohort": "wave-1", "confirm_without_dry_run": "on"}
    )
    assert response.status_code == 303, response.text
    assert await _status(runtime) == "promoted"
    page = await b.get(response.headers["location"])
    assert "wave-1 is promoted" in page.text
    assert 'id="rollback-form"' in page.text
    async with session_scope(runtime.db) as session:
        events = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "rollouts.promote"))
        ).scalars()
        assert [e.target_label for e in events] == ["opus / wave-1"]


async def test_rollback_returns_the_cohort(browser: Any, runtime: Runtime) -> None:
    await _rollout(runtime)
    b = await browser(role="admin")
    await b.post_form(
        "/console/rollouts/opus/promote", {"cohort": "wave-1", "confirm_without_dry_run": "on"}
    )
    response = await b.post_form("/console/rollouts/opus/rollback", {"cohort": "wave-1"})
    assert response.status_code == 303, response.text
    assert await _status(runtime) == "rolled_back"


async def test_promote_is_refused_without_csrf(browser: Any, runtime: Runtime) -> None:
    await _rollout(runtime)
    b = await browser(role="admin")
    response = await b.post_form(
        "/console/rollouts/opus/promote",
        {"cohort": "wave-1", "confirm_without_dry_run": "on"},
        csrf=False,
    )
    assert response.status_code == 403
    assert await _status(runtime) == "pending"


async def test_autopilot_switch_and_timeline_on_the_rollout_page(
    browser: Any, runtime: Runtime
) -> None:
    await _rollout(runtime)
    b = await browser(role="admin")
    page = await b.get("/console/rollouts/opus")
    assert 'id="timeline"' in page.text
    assert "Turn autopilot on" in page.text
    response = await b.post_form("/console/rollouts/opus/autopilot", {"state": "on"})
    assert response.status_code == 303, response.text
    page = await b.get(response.headers["location"])
    assert "Autopilot is on." in page.text
    assert '<tr data-kind="autopilot_on">' in page.text
    assert "Turn autopilot off" in page.text
    approved = await b.post_form("/console/rollouts/opus/approve", {})
    page = await b.get(approved.headers["location"])
    assert "Cohort wave-1 is approved for the autopilot." in page.text
    assert '<tr data-kind="approved">' in page.text
    await b.post_form("/console/rollouts/opus/autopilot", {"state": "off"})
    async with session_scope(runtime.db) as session:
        actions = (
            await session.execute(
                select(AuditEvent.action).where(AuditEvent.action == "rollouts.autopilot")
            )
        ).scalars()
        assert len(list(actions)) == 2


async def test_a_member_sees_the_wave_that_reached_them(browser: Any, runtime: Runtime) -> None:
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name="Mobile")
    member = await browser(role="member", group=group)
    before = await member.get("/console/me")
    assert 'id="my-rollouts"' not in before.text
    async with session_scope(runtime.db) as session:
        data = RolloutCreate.model_validate(
            {
                "name": "Opus",
                "cohorts": [
                    {"name": "pilot", "users": [member.user.email], "models": ["claude-opus-*"]},
                    {"name": "mobile", "groups": ["Mobile"], "models": ["claude-opus-*"]},
                ],
            }
        )
        await rollouts_service.create_rollout(session, local_actor(), data=data)
    admin = await browser(role="admin")
    await admin.post_form(
        "/console/rollouts/Opus/promote", {"cohort": "pilot", "confirm_without_dry_run": "on"}
    )
    page = await member.get("/console/me")
    assert "you are in wave 1 (pilot) of the Opus rollout" in page.text
