"""Policy drafts in the console: list and page render; dry-run, publish (confirmed without a
dry-run) and discard go through the services with CSRF and audit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from tests.factories import make_group

from spectra.audit.actor import local_actor
from spectra.audit.models import AuditEvent
from spectra.db.session import session_scope
from spectra.policy import drafts as drafts_service
from spectra.policy import rollouts as rollouts_service
from spectra.policy.models import PolicyDraft, RolloutCohort
from spectra.policy.schemas import RolloutCreate
from spectra.runtime import Runtime


async def _draft(runtime: Runtime) -> uuid.UUID:
    async with session_scope(runtime.db) as session:
        await make_group(session, name="Platform")
        data = RolloutCreate.model_validate(
            {"name": "opus", "cohorts": [{"name": "wave-1", "groups": ["Platform"]}]}
        )
        await rollouts_service.create_rollout(session, local_actor(), data=data)
        draft = await drafts_service.create_draft(session, local_actor(), rollout="opus")
        return draft.id


async def _statuses(runtime: Runtime) -> tuple[str, str]:
    async with session_scope(runtime.db) as session:
        draft = (await session.execute(select(PolicyDraft))).scalar_one()
        cohort = (await session.execute(select(RolloutCohort))).scalar_one()
        return draft.status, cohort.status


async def test_the_list_and_the_draft_page_render(browser: Any, runtime: Runtime) -> None:
    draft_id = await _draft(runtime)
    b = await browser(role="auditor")
    listing = await b.get("/console/policy/drafts")
    assert f'data-draft-id="{draft_id}"' in listing.text
    page = await b.get(f"/console/policy/drafts/{draft_id}")
    assert page.status_code == 200, page.text
    assert 'id="publish-form"' not in page.text


async def test_dry_run_then_publish_promotes_the_cohort(browser: Any, runtime: Runtime) -> None:
    draft_id = await _draft(runtime)
    b = await browser(role="admin")
    ran = await b.post_form(f"/console/policy/drafts/{draft_id}/dry-run", {"days": "7"})
    assert ran.status_code == 303, ran.text
    page = await b.get(ran.headers["location"])
    assert "The dry-run is done." in page.text
    response = await b.post_form(f"/console/policy/drafts/{draft_id}/publish", {})
    assert response.status_code == 303, response.text
    assert await _statuses(runtime) == ("published", "promoted")
    async with session_scope(runtime.db) as session:
        actions = (
            await session.execute(
                select(AuditEvent.action).where(AuditEvent.target_id == str(draft_id))
            )
        ).scalars()
        assert "policy.dry_run" in list(actions)


async def test_publish_without_a_dry_run_needs_the_confirmation(
    browser: Any, runtime: Runtime
) -> None:
    draft_id = await _draft(runtime)
    b = await browser(role="admin")
    await b.post_form(f"/console/policy/drafts/{draft_id}/publish", {})
    assert (await _statuses(runtime))[0] == "draft"
    await b.post_form(
        f"/console/policy/drafts/{draft_id}/publish", {"confirm_without_dry_run": "on"}
    )
    assert (await _statuses(runtime))[0] == "published"


async def test_discard(browser: Any, runtime: Runtime) -> None:
    draft_id = await _draft(runtime)
    b = await browser(role="admin")
    response = await b.post_form(f"/console/policy/drafts/{draft_id}/discard", {})
    assert response.status_code == 303
    assert await _statuses(runtime) == ("discarded", "pending")
