"""A team lead's console: every console page (from the app's own route table) answers a lead
exactly as it answers a plain member, except the team pages; the team page of their own group
works (invite, suspend, approve within the limit), another group's is refused."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts
from tests.factories import make_group, make_user
from tests.packages.factories import make_package

from spectra.audit.actor import local_actor, user_actor
from spectra.db.session import session_scope
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.runtime import Runtime
from spectra.users import service as users_service

from .conftest import Browser

SKIP = ("/console/static", "/console/login", "/console/logout", "/console/setup", "/console/sso")
"""Public pages and assets: the same for everyone, signed in or not."""


def _pages(app: Any) -> list[str]:
    """Every console GET page without path parameters."""
    found = set()
    for context in iter_route_contexts(app.routes):
        path = getattr(context, "path", "") or ""
        methods = getattr(context, "methods", None) or ()
        if (
            path.startswith("/console")
            and "GET" in methods
            and "{" not in path
            and not path.startswith(SKIP)
        ):
            found.add(path)
    return sorted(found)


async def _team(runtime: Runtime, lead: Any, name: str, limit: str) -> tuple[Any, Any]:
    """Move `lead` into a new funded group they lead; returns (group, a member of it)."""
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name=name)
        await users_service.move_group(session, local_actor(), user=lead.id, group=group.id)
        await users_service.set_lead(
            session,
            local_actor(),
            group=group.id,
            user=lead.id,
            approval_limit_micros=parse_amount(limit),
        )
        member = await make_user(session, email=f"dev@{name}.example.com", group_id=group.id)
        await ledger_service.recharge(
            session,
            local_actor(),
            group_id=group.id,
            amount=parse_amount("100"),
            memo="budget",
            idempotency_key=f"fund:{group.id}",
        )
    return group, member


async def _request(runtime: Runtime, member: Any, amount: str) -> Any:
    asker = user_actor(user_id=member.id, email=member.email, role="member", via="session")
    async with session_scope(runtime.db) as session:
        return await ledger_service.create_recharge_request(
            session, asker, amount=parse_amount(amount), reason="tokens for the sprint"
        )


async def test_a_lead_sees_every_page_as_a_member_does_except_the_team_pages(
    app: Any, runtime: Runtime, browser: Callable[..., Awaitable[Browser]]
) -> None:
    member, lead = await browser(role="member"), await browser(role="member")
    await _team(runtime, lead.user, "mobile", "20")
    differ = []
    for page in _pages(app):
        as_member = await member.get(page)
        as_lead = await lead.get(page)
        if page == "/console/team":
            assert as_member.status_code == 403
            assert as_lead.status_code == 303
            assert as_lead.headers["location"].endswith("/console/team/mobile")
            continue
        if as_member.status_code != as_lead.status_code:
            differ.append(f"{page}: member {as_member.status_code}, lead {as_lead.status_code}")
    assert not differ, "\n".join(differ)
    assert len(_pages(app)) > 30  # the table is the app's, not a short hand-made list


async def test_the_lead_nav_shows_the_team_and_hides_the_admin_pages(
    runtime: Runtime, browser: Callable[..., Awaitable[Browser]]
) -> None:
    lead = await browser(role="member")
    await _team(runtime, lead.user, "mobile", "20")
    page = await lead.get("/console/me")
    nav = re.search(r'<nav aria-label="Main" id="nav">(.*?)</nav>', page.text, re.S)
    assert nav is not None
    assert 'href="/console/team"' in nav.group(1)
    for admin in ("/console/pool", "/console/users", "/console/settings", "/console/groups"):
        assert f'href="{admin}"' not in nav.group(1)


async def test_a_lead_runs_their_team_and_not_another(
    runtime: Runtime, browser: Callable[..., Awaitable[Browser]]
) -> None:
    lead = await browser(role="member")
    group, member = await _team(runtime, lead.user, "mobile", "20")
    async with session_scope(runtime.db) as session:
        await make_group(session, name="web")
    own = await lead.get("/console/team/mobile")
    assert own.status_code == 200
    assert member.email in own.text
    assert (await lead.get("/console/team/web")).status_code == 403
    assert (await lead.get("/console/team/no-such-team")).status_code == 403

    invited = await lead.post_form(
        "/console/team/mobile/invite", {"email": "new@mobile.example.com", "name": "New"}
    )
    assert invited.status_code == 200, invited.text
    assert 'id="setup-link"' in invited.text

    keyed = await lead.post_form(f"/console/team/mobile/members/{member.id}/key")
    assert keyed.status_code == 200, keyed.text
    assert re.search(r'id="new-key-secret">sk-spectra-', keyed.text)
    no_default = await lead.post_form(
        f"/console/team/mobile/members/{member.id}/package", follow_redirects=True
    )
    assert "has no default package" in no_default.text
    async with session_scope(runtime.db) as session:
        package = await make_package(session, name="mobile-starter")
        await packages_service.set_group_default_package(
            session, local_actor(), group="mobile", package=package.package.name
        )
    given = await lead.post_form(
        f"/console/team/mobile/members/{member.id}/package", follow_redirects=True
    )
    assert f"{member.email} has mobile-starter." in given.text

    suspended = await lead.post_form(f"/console/team/mobile/members/{member.id}/suspend")
    assert suspended.status_code == 303
    async with session_scope(runtime.db) as session:
        assert (await users_service.load_user(session, member.id)).status == "suspended"
    await lead.post_form(f"/console/team/mobile/members/{member.id}/reactivate")

    too_much = await _request(runtime, member, "25")
    refused = await lead.post_form(
        f"/console/team/mobile/requests/{too_much.id}/approve",
        referer="/console/team/mobile",
        follow_redirects=True,
    )
    assert "above your approval limit" in refused.text
    fine = await _request(runtime, member, "15")
    approved = await lead.post_form(
        f"/console/team/mobile/requests/{fine.id}/approve", follow_redirects=True
    )
    assert "The request is approved." in approved.text
    async with session_scope(runtime.db) as session:
        wallet = await ledger_service.wallet_account(session, group_id=group.id)
        assert await ledger_service.balance(session, wallet.id) == 85_000_000


async def test_an_admin_makes_and_removes_a_lead_on_the_group_page(
    runtime: Runtime, browser: Callable[..., Awaitable[Browser]]
) -> None:
    admin = await browser(role="admin")
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name="mobile")
        dev = await make_user(session, email="dev@mobile.example.com", group_id=group.id)
    made = await admin.post_form(
        "/console/groups/mobile/leads",
        {"email": dev.email, "approval_limit": "12.50"},
        follow_redirects=True,
    )
    assert f"{dev.email} leads mobile." in made.text
    assert re.search(rf'data-lead-email="{re.escape(dev.email)}".*?12\.50', made.text, re.S)
    removed = await admin.post_form(
        "/console/groups/mobile/leads/remove", {"email": dev.email}, follow_redirects=True
    )
    assert "no longer leads mobile" in removed.text
    assert f'data-lead-email="{dev.email}"' not in removed.text
    bad = await admin.post_form(
        "/console/groups/mobile/leads",
        {"email": dev.email, "approval_limit": "lots"},
        referer="/console/groups/mobile",
        follow_redirects=True,
    )
    assert 'id="flash"' in bad.text
    assert bad.status_code == httpx.codes.OK
