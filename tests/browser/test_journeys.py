"""The issue's journeys in a real browser: the admin chain from an empty pool to a member's
usage on the admin's chart and ledger; a member redeems a code; two admins approve a recharge;
a refusal reaches the member's page with its explanation."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from spectra.audit.actor import local_actor
from spectra.db.session import read_scope, session_scope
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.ledger.models import LedgerAccount
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.pool import service as pool_service
from spectra.pool.schemas import AccountCreate
from spectra.workspace import service as workspace_service

from .conftest import OWNER_EMAIL, PASSWORD, Site, shot, sign_in

pytestmark = pytest.mark.slow
NewPage = Callable[..., Awaitable[Page]]
MEMBER = "priya@browser.test"


async def _package(site: Site, name: str, *, allowance: str, patterns: list[str]) -> None:
    async with session_scope(site.runtime.db) as session:
        await packages_service.create_package(
            session,
            local_actor(),
            data=PackageCreate.model_validate(
                {
                    "name": name,
                    "allowance": allowance,
                    "period": "monthly",
                    "model_patterns": patterns,
                }
            ),
        )
    await site.runtime.feed.poll_once()


async def _pool(site: Site) -> None:
    async with session_scope(site.runtime.db) as session:
        await pool_service.add_account(
            session,
            local_actor(),
            data=AccountCreate.model_validate(
                {
                    "name": "anthropic-main",
                    "provider": "anthropic",
                    "base_url": site.upstream.url,
                    "api_key": "sk-demo-browser",
                    "models": ["claude-*"],
                }
            ),
        )
    await site.runtime.feed.poll_once()


async def _wallet_balance(site: Site, email: str) -> int:
    async with read_scope(site.runtime.db) as session:
        from spectra.users import service as users_service

        user = await users_service.find_user_by_email(session, local_actor(), email=email)
        assert user is not None
        row = (
            await session.execute(
                select(LedgerAccount).where(
                    LedgerAccount.kind == "user_wallet", LedgerAccount.owner_id == user.id
                )
            )
        ).scalar_one_or_none()
        return 0 if row is None else row.balance_micros


async def _usage_postings(site: Site) -> int:
    """Usage transactions in the ledger (the admin's ledger view reads the same rows)."""
    from sqlalchemy import func

    from spectra.ledger.models import LedgerTransaction

    async with read_scope(site.runtime.db) as session:
        stmt = select(func.count()).where(LedgerTransaction.kind == "usage")
        return int((await session.execute(stmt)).scalar_one())


async def _member_key(page: Page, name: str = "laptop") -> str:
    await page.goto("/console/me/keys")
    await page.locator("#create-key-form").get_by_label("Name", exact=True).fill(name)
    await page.locator("#create-key").click()
    secret = (await page.locator("#new-key-secret").inner_text()).strip()
    assert secret.startswith("sk-")
    return secret


class TestAdminChain:
    async def test_from_an_empty_pool_to_the_members_usage_on_the_admins_chart(
        self, site: Site, new_page: NewPage
    ) -> None:
        await _package(site, "Power", allowance="5", patterns=["*"])
        admin = await new_page()
        await sign_in(admin, OWNER_EMAIL)

        # An upstream account, tested from its row.
        await admin.goto("/console/pool")
        form = admin.locator("#add-account-form")
        await form.get_by_label("Provider").select_option("anthropic")
        await form.get_by_label("API key").fill("sk-demo-browser")
        await form.get_by_label("Name", exact=True).fill("anthropic-main")
        await form.get_by_label("Base URL").fill(site.upstream.url)
        await form.get_by_label("Models").fill("claude-*")
        await admin.locator("#add-account").click()
        await admin.goto("/console/pool")
        row = admin.locator('#accounts tr[data-account-name="anthropic-main"]')
        await expect(row).to_be_visible()
        await row.locator(".test-account").click()
        await expect(row.get_by_role("status")).to_contain_text("answered in")

        # A group, and a member invited into it.
        await admin.goto("/console/groups")
        await admin.locator("#create-group-form").get_by_label("Name", exact=True).fill("Platform")
        await admin.locator("#create-group").click()
        await admin.goto("/console/groups")
        await expect(admin.locator("#groups")).to_contain_text("Platform")
        await admin.goto("/console/users")
        users_form = admin.locator("#create-user-form")
        await users_form.get_by_label("Email").fill(MEMBER)
        await users_form.get_by_label("Name", exact=True).fill("Priya Raman")
        # The filter form above has a "Group" select with the same id, so go by name.
        await users_form.locator('select[name="group"]').select_option(label="Platform")
        await admin.locator("#create-user").click()
        link = (await admin.locator("#setup-link").inner_text()).strip()
        token = parse_qs(urlparse(link).query)["token"][0]

        # A package for her, and a recharge: a double click credits once.
        await admin.get_by_role("link", name=f"Open {MEMBER}").click()
        await (
            admin.locator("#assign-package-form")
            .get_by_label("Assign a package")
            .select_option(label="Power")
        )
        await admin.locator("#assign-package").click()
        await expect(admin.locator("#user-packages")).to_contain_text("Power")
        await admin.goto("/console/recharges")
        recharge = admin.locator("#recharge-form")
        await recharge.get_by_label("Member email").fill(MEMBER)
        await recharge.get_by_label("Amount").fill("25")
        await recharge.get_by_label("Memo").fill("Welcome to the pilot")
        await admin.locator("#recharge-continue").click()
        await expect(admin.locator("#recharge-summary")).to_contain_text("25.00")
        await expect(admin.locator("#recharge-outcome")).to_contain_text("credited at once")
        await admin.locator("#recharge-confirm").dblclick()
        await expect(admin.locator("#recharge-confirm")).to_have_count(0)
        assert await _wallet_balance(site, MEMBER) == parse_amount("25")

        # She sets her password through the link, signs in, creates a key and calls the gateway.
        member = await new_page()
        await member.goto(f"/console/setup?token={token}")
        await member.get_by_label("New password").fill(PASSWORD)
        await member.get_by_label("Repeat it").fill(PASSWORD)
        await member.locator("#set-password").click()
        await expect(member.locator("#setup-form")).to_have_count(0)
        await sign_in(member, MEMBER)
        secret = await _member_key(member)
        # The new key reaches the gateway's key cache through the change feed; on a loaded
        # machine the background poll may not have run yet, so run one now.
        await site.runtime.feed.poll_once()
        answer = await site.gateway(secret)
        assert answer.status_code == 200, answer.text
        await site.settle()

        # The admin sees it in her ledger and on her chart.
        await admin.goto("/console/users")
        await admin.get_by_role("link", name=MEMBER).click()
        await expect(admin.locator("#user-packages")).to_contain_text("Power")
        assert await _usage_postings(site) == 1
        chart = json.loads(await admin.locator("#user-chart").inner_text())
        assert any(v > 0 for v in chart["datasets"][0]["data"])
        await shot(admin, "journey-admin-user-page")
        await member.goto("/console/me/usage")
        await expect(member.locator("main")).to_contain_text("claude-sonnet-4-5")
        await shot(member, "journey-member-usage")


class TestRedeemCode:
    async def test_a_member_redeems_a_code_into_their_wallet(
        self, site: Site, new_page: NewPage
    ) -> None:
        await site.add_user(MEMBER)
        async with session_scope(site.runtime.db) as session:
            batch = await ledger_service.create_codes(
                session, local_actor(), count=1, amount=parse_amount("10"), memo="hack day"
            )
        member = await new_page()
        await sign_in(member, MEMBER)
        await member.goto("/console/me/wallet")
        await member.locator("#redeem-form").get_by_label("Code").fill(batch.codes[0])
        await member.locator("#redeem").click()

        await expect(member.locator("#wallet-balance")).to_contain_text("10.00")
        assert await _wallet_balance(site, MEMBER) == parse_amount("10")


SAMS_OWN_PASSWORD = "quartz lantern orbit meadow"


class TestFourEyes:
    async def test_a_second_admin_approves_a_large_recharge_once(
        self, site: Site, new_page: NewPage
    ) -> None:
        await site.add_user(MEMBER)
        await site.add_user("sam@browser.test", role="admin")
        async with session_scope(site.runtime.db) as session:
            await workspace_service.set_setting(
                session, local_actor(), name="four_eyes_threshold", value="100"
            )
        await site.runtime.feed.poll_once()
        owner = await new_page()
        await sign_in(owner, OWNER_EMAIL)
        await owner.goto("/console/recharges")
        form = owner.locator("#recharge-form")
        await form.get_by_label("Member email").fill(MEMBER)
        await form.get_by_label("Amount").fill("500")
        await form.get_by_label("Memo").fill("Runway to quarter end")
        await owner.locator("#recharge-continue").click()
        await expect(owner.locator("#recharge-outcome")).to_contain_text(
            "a second admin must approve"
        )
        await owner.locator("#recharge-confirm").click()
        await owner.goto("/console/recharges")
        await expect(owner.locator("#approvals")).to_contain_text("500.00")
        assert await _wallet_balance(site, MEMBER) == 0

        # Sam's password was set by someone else: no independent approver until Sam changes it.
        sam = await new_page()
        await sign_in(sam, "sam@browser.test")
        await sam.goto("/console/recharges")
        await expect(sam.locator("#approvals")).to_contain_text("500.00")
        await sam.locator("#approvals").get_by_role("button", name="Approve").click()
        await expect(sam.locator("main")).to_contain_text("change")
        await expect(sam.locator("#approvals")).to_contain_text("Runway to quarter end")
        assert await _wallet_balance(site, MEMBER) == 0

        await sam.goto("/console/account")
        await sam.get_by_label("Current password").fill(PASSWORD)
        await sam.get_by_label("New password", exact=True).fill(SAMS_OWN_PASSWORD)
        await sam.get_by_label("Repeat the new password").fill(SAMS_OWN_PASSWORD)
        await sam.locator("#change-password").click()
        await expect(sam.locator("#login-form")).to_have_count(1)
        await sign_in(sam, "sam@browser.test", SAMS_OWN_PASSWORD)
        await sam.goto("/console/recharges")
        await sam.locator("#approvals").get_by_role("button", name="Approve").dblclick()
        await expect(sam.locator("#approvals")).not_to_contain_text("Runway to quarter end")
        assert any("Approve" in question for question in site.dialogs)

        assert await _wallet_balance(site, MEMBER) == parse_amount("500")


class TestRefusal:
    async def test_a_refusal_reaches_the_members_page_with_its_explanation(
        self, site: Site, new_page: NewPage
    ) -> None:
        await _pool(site)
        await _package(site, "Starter", allowance="20", patterns=["claude-sonnet-*"])
        await site.add_user(MEMBER)
        async with session_scope(site.runtime.db) as session:
            from spectra.users import service as users_service

            user = await users_service.find_user_by_email(session, local_actor(), email=MEMBER)
            assert user is not None
            await packages_service.assign_package(
                session, local_actor(), package="Starter", user_id=user.id
            )
        await site.runtime.feed.poll_once()
        member = await new_page()
        await sign_in(member, MEMBER)
        secret = await _member_key(member)
        await site.runtime.feed.poll_once()  # the new key reaches the key cache (see above)

        answer = await site.gateway(secret, model="claude-opus-4-1")
        await site.settle()

        assert answer.status_code >= 400
        sentence = answer.json()["error"]["message"]
        await member.goto("/console/me/refusals")
        await expect(member.locator("#refusals")).to_contain_text("claude-opus-4-1")
        await expect(member.locator("#refusals")).to_contain_text("model_not_in_package")
        # The portal shows the very sentence the member's client was given.
        await expect(member.locator("#refusals")).to_contain_text(sentence)
        await shot(member, "journey-member-refusals")
        await member.locator("#refusals").get_by_role("link", name="explain now").click()
        await expect(member.locator("main")).to_contain_text("Starter")
        assert "Starter" in sentence
