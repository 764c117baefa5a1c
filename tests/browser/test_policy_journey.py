"""Scenario 5 in a real browser: the owner creates a rollout with two cohorts through the
console, drafts the pilot's promotion, dry-runs and publishes it; then, at phone width, drafts a
change to another group's policy from its policy page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from spectra.audit.actor import local_actor
from spectra.db.session import read_scope, session_scope
from spectra.policy.models import PolicyDraft, RolloutCohort
from spectra.users import service as users_service

from .conftest import OWNER_EMAIL, Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


async def _groups(site: Site, *names: str) -> None:
    async with session_scope(site.runtime.db) as session:
        for name in names:
            await users_service.create_group(session, local_actor(), name=name)
    await site.runtime.feed.poll_once()


async def _cohort_statuses(site: Site) -> dict[str, str]:
    async with read_scope(site.runtime.db) as session:
        rows = (await session.execute(select(RolloutCohort))).scalars()
        return {c.name: c.status for c in rows}


async def test_create_a_rollout_and_drafts_through_the_console(
    site: Site, new_page: NewPage
) -> None:
    await _groups(site, "Platform", "Mobile")
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)

    # The rollout: two cohorts in order, a gate, through the form.
    await admin.goto("/console/rollouts")
    await admin.locator("#new-rollout").click()
    form = admin.locator("#create-rollout-form")
    await form.get_by_label("Rollout name").fill("claude-for-all")
    await form.get_by_label("Goal").fill("Opus for everyone")
    await form.get_by_label("Max error rate (%)").fill("5")
    await form.get_by_label("Cohort 1 name").fill("pilot")
    await form.get_by_label("Cohort 1 groups").fill("Platform")
    await form.get_by_label("Cohort 1 models").fill("claude-opus-*")
    await form.get_by_label("Cohort 2 name").fill("wave-1")
    await form.get_by_label("Cohort 2 groups").fill("Mobile")
    await admin.locator("#create-rollout").click()
    await expect(admin.locator("#flash")).to_contain_text("Rollout claude-for-all is created")
    await expect(admin.locator('[data-cohort-name="pilot"]')).to_be_visible()
    await expect(admin.locator('[data-cohort-name="wave-1"]')).to_be_visible()
    assert await _cohort_statuses(site) == {"pilot": "pending", "wave-1": "pending"}

    # A draft of the next promotion, dry-run, then published (the page asks first).
    await admin.goto("/console/policy/drafts")
    drafts = admin.locator("#create-draft-form")
    await drafts.get_by_label("Rollout", exact=True).select_option("claude-for-all")
    await admin.locator("#create-draft").click()
    await expect(admin.locator("#draft-status")).to_contain_text("draft")
    await admin.locator("#dry-run-draft").click()
    await expect(admin.locator("#flash")).to_contain_text("The dry-run is done.")
    await admin.locator("#publish-draft").click()
    await expect(admin.locator("#flash")).to_contain_text("The draft is published.")
    assert any("Publish this draft?" in question for question in site.dialogs)
    assert await _cohort_statuses(site) == {"pilot": "promoted", "wave-1": "pending"}
    await shot(admin, "journey-policy-draft-published")

    # At phone width: Mobile's policy page, a limit changed, saved as a draft.
    phone = await new_page(width=390, height=844)
    await sign_in(phone, OWNER_EMAIL)
    await phone.goto("/console/groups/Mobile/policy")
    await expect(phone.locator("#policy-rpm")).to_contain_text("no limit")
    policy = phone.locator("#group-policy-form")
    await policy.get_by_label("Requests per minute").fill("30")
    await policy.get_by_label("Group monthly cap").fill("-5")
    await phone.locator("#draft-group-policy").click()
    await expect(phone.locator("#e-monthly_cap")).to_be_visible()  # the sentence, by the field
    policy = phone.locator("#group-policy-form")
    await expect(policy.get_by_label("Requests per minute")).to_have_value("30")  # kept
    await policy.get_by_label("Group monthly cap").fill("")
    await phone.locator("#draft-group-policy").click()
    await expect(phone.locator("#draft-changes")).to_contain_text("rpm")
    overflow = await phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at phone width"
    await shot(phone, "journey-group-policy-draft-phone")
    await phone.goto("/console/rollouts-new")
    await expect(phone.locator("#create-rollout-form")).to_be_visible()
    overflow = await phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the rollout form scrolls sideways by {overflow}px at phone width"
    await shot(phone, "journey-new-rollout-phone")
    async with read_scope(site.runtime.db) as session:
        draft = (
            await session.execute(select(PolicyDraft).where(PolicyDraft.target_label == "Mobile"))
        ).scalar_one()
        assert (draft.status, draft.changes) == ("draft", {"rpm": 30})
