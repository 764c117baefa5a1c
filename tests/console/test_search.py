"""The header search (GET /console/search?q=): people, keys, pool accounts and packages, each
only as far as the viewer may read them; htmx requests get the results list alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.factories import make_group, make_user
from tests.packages.factories import make_package
from tests.pool.factories import make_account

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime
from spectra.users import service as users_service

from .conftest import Browser

NewBrowser = Callable[..., Awaitable[Browser]]


async def _world(runtime: Runtime) -> dict[str, Any]:
    async with session_scope(runtime.db) as session:
        mobile = await make_group(session, name="mobile")
        web = await make_group(session, name="web")
        ana = await make_user(
            session, email="ana.zeta@example.com", name="Ana Zeta", group_id=mobile.id
        )
        bob = await make_user(
            session, email="bob.zeta@example.com", name="Bob Zeta", group_id=web.id
        )
        key, _ = await keys_service.create_key(
            session, local_actor(), user_id=bob.id, name="zeta-laptop"
        )
        await make_account(session, local_actor(), name="zeta-primary")
        await make_package(session, name="Zeta Plus")
    return {"mobile": mobile, "ana": ana, "bob": bob, "key": key}


async def test_an_admin_finds_people_keys_accounts_and_packages(
    runtime: Runtime, browser: NewBrowser
) -> None:
    world = await _world(runtime)
    admin = await browser(role="auditor")
    page = await admin.get("/console/search", params={"q": "zeta"})
    assert page.status_code == 200
    assert "<h1>Search</h1>" in page.text
    for seen in ("ana.zeta@example.com", "bob.zeta@example.com", "zeta-primary", "Zeta Plus"):
        assert seen in page.text
    assert f'href="/console/users/{world["bob"].id}#user-keys"' in page.text  # the key
    assert world["key"].prefix in page.text
    assert 'href="/console/packages/Zeta%20Plus"' in page.text


async def test_htmx_gets_the_list_alone_and_a_miss_says_so(
    runtime: Runtime, browser: NewBrowser
) -> None:
    await _world(runtime)
    admin = await browser(role="admin")
    found = await admin.get(
        "/console/search", params={"q": "ana.z"}, headers={"hx-request": "true"}
    )
    assert found.status_code == 200
    assert "<html" not in found.text
    assert 'data-kind="people"' in found.text
    assert "ana.zeta@example.com" in found.text
    assert "bob.zeta" not in found.text
    missed = await admin.get(
        "/console/search", params={"q": "nobody-here"}, headers={"hx-request": "true"}
    )
    assert 'id="search-none"' in missed.text
    blank = await admin.get("/console/search", headers={"hx-request": "true"})
    assert blank.text.strip() == ""


async def test_a_lead_finds_their_team_only_and_a_member_their_own_keys(
    runtime: Runtime, browser: NewBrowser
) -> None:
    world = await _world(runtime)
    lead = await browser(role="member")
    async with session_scope(runtime.db) as session:
        await users_service.move_group(
            session, local_actor(), user=lead.user.id, group=world["mobile"].id
        )
        await users_service.set_lead(
            session, local_actor(), group=world["mobile"].id, user=lead.user.id
        )
        await keys_service.create_key(session, local_actor(), user_id=lead.user.id, name="zeta-own")
    page = await lead.get("/console/search", params={"q": "zeta"})
    assert page.status_code == 200
    assert "ana.zeta@example.com" in page.text
    assert f"/console/team/mobile/members/{world['ana'].id}" in page.text
    for hidden in ("bob.zeta@example.com", "zeta-laptop", "zeta-primary", "Zeta Plus"):
        assert hidden not in page.text  # another team's member, their key, admin-only kinds
    assert "zeta-own" in page.text

    member = await browser(role="member")
    mine = await member.get("/console/search", params={"q": "zeta"})
    assert mine.status_code == 200
    for hidden in ("ana.zeta", "bob.zeta", "zeta-laptop", "zeta-own", "zeta-primary", "Zeta Plus"):
        assert hidden not in mine.text
    assert 'data-kind="people"' not in mine.text


async def test_the_layout_groups_the_navigation_and_marks_the_page(
    runtime: Runtime, browser: NewBrowser
) -> None:
    admin = await browser(role="billing")
    page = await admin.get("/console/usage/forecast")
    assert page.status_code == 200
    for heading in ("Pool", "People", "Money", "Usage", "Policy", "Settings"):
        assert f'class="nav-heading" id="nav-{heading.lower()}">{heading}</h2>' in page.text
    assert '<a href="/console/usage/forecast" aria-current="page">Forecast</a>' in page.text
    assert '<a href="/console/usage" aria-current' not in page.text
    assert 'id="breadcrumbs"' in page.text
    assert "<span>Usage</span>" in page.text
    member = await browser(role="member")
    portal = await member.get("/console/me/keys")
    assert 'id="nav-money"' not in portal.text
    assert 'href="/console/users"' not in portal.text
    assert '<a href="/console/me/keys" aria-current="page">My keys</a>' in portal.text
