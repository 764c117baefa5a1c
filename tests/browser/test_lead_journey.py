"""A team lead in a real browser: the nav offers their team and no admin pages; they approve a
member's request within their limit and are refused above it, next to the request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from spectra.audit.actor import local_actor, user_actor
from spectra.db.session import session_scope
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.users import service as users_service

from .conftest import Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]


async def _ask(site: Site, email: str, amount: str) -> str:
    async with session_scope(site.runtime.db) as session:
        member = await users_service.load_user(session, email)
        asker = user_actor(user_id=member.id, email=member.email, role="member", via="session")
        request = await ledger_service.create_recharge_request(
            session, asker, amount=parse_amount(amount), reason="sprint tokens"
        )
        return str(request.id)


async def test_a_lead_runs_their_team_in_the_browser(site: Site, new_page: NewPage) -> None:
    async with session_scope(site.runtime.db) as session:
        group = await users_service.create_group(session, local_actor(), name="mobile")
        await ledger_service.recharge(
            session,
            local_actor(),
            group_id=group.id,
            amount=parse_amount("100"),
            memo="budget",
            idempotency_key="journey-fund",
        )
    await site.add_user("lead@example.com", group="mobile")
    await site.add_user("dev@example.com", group="mobile")
    async with session_scope(site.runtime.db) as session:
        await users_service.set_lead(
            session,
            local_actor(),
            group="mobile",
            user="lead@example.com",
            approval_limit_micros=parse_amount("20"),
        )
    big = await _ask(site, "dev@example.com", "30")
    small = await _ask(site, "dev@example.com", "12")

    page = await new_page()
    await sign_in(page, "lead@example.com")
    nav = page.locator("#nav")
    await expect(nav.locator("#nav-team")).to_be_visible()
    await expect(nav.get_by_role("link", name="Pool")).to_have_count(0)
    await nav.locator("#nav-team").click()
    await expect(page.locator("h1")).to_have_text("Team mobile")
    await expect(page.locator("#team-members")).to_contain_text("dev@example.com")
    await expect(page.locator("#my-approval-limit")).to_contain_text("20.00")

    await page.locator(f'tr[data-request-id="{big}"] button.approve').click()
    await expect(page.locator("#flash.error")).to_contain_text("above your approval limit")
    await page.locator(f'tr[data-request-id="{small}"] button.approve').click()
    await expect(page.locator("#flash.ok")).to_contain_text("approved")
    await expect(page.locator("#team-balance")).to_contain_text("88.00")
    await expect(page.locator(f'tr[data-request-id="{small}"]')).to_have_count(0)
    await shot(page, "lead-team")

    await page.goto("/console/pool")
    await expect(page.locator("body")).to_contain_text("cannot")
