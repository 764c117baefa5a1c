"""Budgets in a real browser: the owner creates a project and gives a member's key an
approval-mode daily budget through the console; the member sees both on their portal and asks
for an extension; the owner approves it with an expiry. Bad input is a flash message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from spectra.audit.actor import local_actor
from spectra.budgets.models import BudgetExtension, KeyBudget
from spectra.db.session import read_scope, session_scope
from spectra.keys import service as keys_service

from .conftest import OWNER_EMAIL, Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
MEMBER = "dana@browser.test"


async def test_key_budget_project_and_extension_through_the_console(
    site: Site, new_page: NewPage
) -> None:
    member_id = await site.add_user(MEMBER)
    async with session_scope(site.runtime.db) as session:
        key, _ = await keys_service.create_key(session, local_actor(), user_id=member_id)
    admin = await new_page()
    await sign_in(admin, OWNER_EMAIL)

    await admin.goto("/console/projects")
    form = admin.locator("#create-project-form")
    await form.get_by_label("Name").fill("apollo")
    await form.get_by_label("Monthly budget").fill("250")
    await admin.locator("#create-project").click()
    await expect(admin.locator("#flash")).to_contain_text("Created project apollo.")
    await admin.locator("#add-member-form").get_by_label("Member's email").fill(MEMBER)
    await admin.locator("#add-member").click()
    await expect(admin.locator("#project-members")).to_contain_text(MEMBER)
    await expect(admin.locator("#project-facts")).to_contain_text("$250.00")

    await admin.goto("/console/budgets")
    budget = admin.locator("#set-key-budget-form")
    await budget.get_by_label("Key id").fill(str(key.id))
    await budget.get_by_label("Per day").fill("1.5000001")
    await admin.locator("#set-key-budget").click()
    await expect(admin.locator("#flash")).to_contain_text("more than 6 decimals")
    budget = admin.locator("#set-key-budget-form")
    await budget.get_by_label("Key id").fill(str(key.id))
    await budget.get_by_label("Per day").fill("1.50")
    await budget.get_by_label("Mode", exact=True).select_option("approval")
    await budget.get_by_label("Requests per minute").fill("30")
    await admin.locator("#set-key-budget").click()
    await expect(admin.locator("#flash")).to_contain_text("Set the budget of key")
    await expect(admin.locator(f'[data-key="{key.id}"]')).to_contain_text("$1.50")
    async with read_scope(site.runtime.db) as session:
        row = await session.get(KeyBudget, key.id)
        assert row is not None
        assert (row.day_micros, row.mode, row.rpm) == (1_500_000, "approval", 30)

    member = await new_page()
    await sign_in(member, MEMBER)
    await member.goto("/console/me/budgets")
    await expect(member.locator(f'#my-key-budgets [data-key="{key.id}"]')).to_contain_text(
        "approval"
    )
    await expect(member.locator('#my-projects [data-project="apollo"]')).to_contain_text("$250.00")
    ask = member.locator("#extension-form")
    await ask.get_by_label("Key id").fill(str(key.id))
    await ask.get_by_label("Amount").fill("5")
    await ask.get_by_label("Reason").fill("release week")
    await member.locator("#ask-extension").click()
    await expect(member.locator("#flash")).to_contain_text("Asked for an extension")
    await shot(member, "budgets-member-portal")

    await admin.goto("/console/budgets")
    async with read_scope(site.runtime.db) as session:
        ext = (await session.execute(select(BudgetExtension))).scalar_one()
    row_ = admin.locator(f"#ext-{ext.id}")
    await expect(row_).to_contain_text("release week")
    await row_.get_by_label("Expires at").fill("2099-01-01T00:00+00:00")
    await row_.get_by_role("button", name="Approve").click()
    await expect(admin.locator("#flash")).to_contain_text("Approved until 2099-01-01 00:00 UTC.")
    await expect(admin.locator(f"#ext-{ext.id}")).to_contain_text("approved")
    await shot(admin, "budgets-admin")
