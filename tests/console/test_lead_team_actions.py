"""A team lead in the console: their team's usage page (HTML and CSV: only their group's
members and spend), a member's page where they revoke a key and cancel a package, and budget
extension requests they approve or reject; every one refused (403 `permission_denied`) for a
member of another group, and each change audited like an admin's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from tests.factories import make_user
from tests.packages.factories import make_package
from tests.usage.lead_seed import ALICE_COST, OTHER_GROUP, OWN_GROUP, Teams, seed_teams

from spectra.audit.actor import local_actor, user_actor
from spectra.audit.models import AuditEvent
from spectra.budgets import service as budgets_service
from spectra.budgets.models import BudgetExtension
from spectra.budgets.schemas import KeyBudgetChange
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.keys.models import MemberKey
from spectra.kit.money import parse_amount
from spectra.packages import service as packages_service
from spectra.packages.models import PackageAssignment
from spectra.runtime import Runtime

from .conftest import Browser

BrowserFactory = Callable[..., Awaitable[Browser]]


def _refused(response: Any) -> None:
    assert response.status_code == 403, response.text[:300]
    assert 'data-error-code="permission_denied"' in response.text


def _clean(teams: Teams, text: str) -> None:
    leaked = [s for s in teams.forbidden_strings() if s in text]
    assert not leaked, f"the lead's page shows {leaked}"


async def _lead(runtime: Runtime, browser: BrowserFactory) -> tuple[Browser, Teams]:
    lead = await browser(role="member")
    return lead, await seed_teams(runtime, lead.user)


async def _actions(runtime: Runtime, action: str) -> list[AuditEvent]:
    async with session_scope(runtime.db) as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


async def test_the_team_usage_page_shows_only_the_leads_group(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    lead, teams = await _lead(runtime, browser)
    for by in ("user", "model", "client", "key"):
        page = await lead.get(f"/console/team/{OWN_GROUP}/usage", params={"by": by})
        assert page.status_code == 200, page.text[:300]
        assert "3.69" in page.text  # alice's three records, the group's total
        _clean(teams, page.text)
    assert teams.alice.email in (await lead.get(f"/console/team/{OWN_GROUP}/usage")).text
    download = await lead.get(f"/console/team/{OWN_GROUP}/usage", params={"format": "csv"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert f"{teams.alice.email},3,3,0" in download.text
    assert str(3 * ALICE_COST) in download.text
    _clean(teams, download.text)
    _refused(await lead.get(f"/console/team/{OTHER_GROUP}/usage"))
    _refused(await lead.get("/console/team/no-such-team/usage"))
    team = await lead.get(f"/console/team/{OWN_GROUP}")
    assert f'href="/console/team/{OWN_GROUP}/usage"' in team.text


async def test_an_admin_opens_any_groups_usage_page(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    teams = await seed_teams(runtime)
    admin = await browser(role="admin")
    page = await admin.get(f"/console/team/{OTHER_GROUP}/usage")
    assert page.status_code == 200
    assert teams.bob.email in page.text
    assert teams.alice.email not in page.text


async def test_a_lead_revokes_a_members_key_and_not_another_groups(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    lead, teams = await _lead(runtime, browser)
    async with session_scope(runtime.db) as session:
        alices, _ = await keys_service.create_key(session, local_actor(), user_id=teams.alice.id)
        bobs, _ = await keys_service.create_key(session, local_actor(), user_id=teams.bob.id)
    page = await lead.get(f"/console/team/{OWN_GROUP}/members/{teams.alice.id}")
    assert page.status_code == 200
    assert f'data-key-id="{alices.id}"' in page.text
    _refused(await lead.get(f"/console/team/{OWN_GROUP}/members/{teams.bob.id}"))

    revoked = await lead.post_form(
        f"/console/team/{OWN_GROUP}/keys/{alices.id}/revoke", follow_redirects=True
    )
    assert f"Key {alices.prefix} is revoked." in revoked.text
    _refused(await lead.post_form(f"/console/team/{OWN_GROUP}/keys/{bobs.id}/revoke"))
    async with session_scope(runtime.db) as session:
        assert (await session.get(MemberKey, alices.id)).status == "revoked"  # type: ignore[union-attr]
        assert (await session.get(MemberKey, bobs.id)).status == "active"  # type: ignore[union-attr]
    [event] = await _actions(runtime, "keys.revoke")
    assert event.actor_label == lead.user.email


async def test_a_lead_cancels_a_members_package_and_not_another_groups(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    lead, teams = await _lead(runtime, browser)
    async with session_scope(runtime.db) as session:
        package = await make_package(session, name="starter")
        name = package.package.name
        for group in (OWN_GROUP, OTHER_GROUP):  # a lead cancels only their group's packages
            await packages_service.set_group_default_package(
                session, local_actor(), group=group, package=name
            )
        alices = await packages_service.assign_package(
            session, local_actor(), package=name, user_id=teams.alice.id
        )
        bobs = await packages_service.assign_package(
            session, local_actor(), package=name, user_id=teams.bob.id
        )
    page = await lead.get(f"/console/team/{OWN_GROUP}/members/{teams.alice.id}")
    assert f'data-assignment-id="{alices.assignment.id}"' in page.text
    cancelled = await lead.post_form(
        f"/console/team/{OWN_GROUP}/assignments/{alices.assignment.id}/cancel",
        follow_redirects=True,
    )
    assert f"starter of {teams.alice.email} is cancelled." in cancelled.text
    _refused(
        await lead.post_form(f"/console/team/{OWN_GROUP}/assignments/{bobs.assignment.id}/cancel")
    )
    async with session_scope(runtime.db) as session:
        mine = await session.get(PackageAssignment, alices.assignment.id)
        other = await session.get(PackageAssignment, bobs.assignment.id)
        assert (mine and mine.status, other and other.status) == ("cancelled", "active")
    [event] = await _actions(runtime, "packages.cancel")
    assert event.actor_label == lead.user.email


async def _extension(runtime: Runtime, owner: Any, amount: str) -> BudgetExtension:
    """`owner` asks for an extension of their key's approval-mode budget."""
    asker = user_actor(user_id=owner.id, email=owner.email, role="member", via="session")
    async with session_scope(runtime.db) as session:
        key, _ = await keys_service.create_key(session, local_actor(), user_id=owner.id)
        await budgets_service.set_key_budget(
            session,
            local_actor(),
            key_id=key.id,
            changes=KeyBudgetChange.model_validate({"mode": "approval", "month": "5"}),
        )
        return await budgets_service.request_extension(
            session, asker, amount_micros=parse_amount(amount), key_id=key.id, reason="release"
        )


async def test_a_lead_decides_their_members_budget_extensions_within_the_limit(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    lead, teams = await _lead(runtime, browser)
    small = await _extension(runtime, teams.alice, "20")
    large = await _extension(runtime, teams.alice, "80")
    elsewhere = await _extension(runtime, teams.bob, "1")
    team = await lead.get(f"/console/team/{OWN_GROUP}")
    assert f'data-extension-id="{small.id}"' in team.text
    assert f'data-extension-id="{elsewhere.id}"' not in team.text

    approved = await lead.post_form(
        f"/console/team/{OWN_GROUP}/extensions/{small.id}/approve", follow_redirects=True
    )
    assert "Approved until" in approved.text
    above = await lead.post_form(
        f"/console/team/{OWN_GROUP}/extensions/{large.id}/approve",
        referer=f"/console/team/{OWN_GROUP}",
        follow_redirects=True,
    )
    assert "above your approval limit" in above.text
    rejected = await lead.post_form(
        f"/console/team/{OWN_GROUP}/extensions/{large.id}/reject", follow_redirects=True
    )
    assert "The extension request is rejected." in rejected.text
    _refused(await lead.post_form(f"/console/team/{OWN_GROUP}/extensions/{elsewhere.id}/approve"))
    _refused(await lead.post_form(f"/console/team/{OWN_GROUP}/extensions/{elsewhere.id}/reject"))
    async with session_scope(runtime.db) as session:
        rows = {x.id: x for x in (await session.execute(select(BudgetExtension))).scalars()}
    assert [rows[x.id].status for x in (small, large, elsewhere)] == [
        "approved",
        "rejected",
        "pending",
    ]
    expires = rows[small.id].expires_at
    assert expires is not None
    assert expires > datetime.now(UTC) + timedelta(days=6)
    assert rows[small.id].decided_by_label == lead.user.email
    assert len(await _actions(runtime, "budgets.extension_approve")) == 1
    assert len(await _actions(runtime, "budgets.extension_reject")) == 1


async def test_a_member_who_leads_nothing_gets_no_team_action(
    runtime: Runtime, browser: BrowserFactory
) -> None:
    teams = await seed_teams(runtime)
    member = await browser(role="member")
    async with session_scope(runtime.db) as session:
        await make_user(session, email="someone@example.com")
    ask = await _extension(runtime, teams.alice, "1")
    _refused(await member.get(f"/console/team/{OWN_GROUP}/usage"))
    _refused(await member.get(f"/console/team/{OWN_GROUP}/members/{teams.alice.id}"))
    _refused(await member.post_form(f"/console/team/{OWN_GROUP}/extensions/{ask.id}/approve"))
