"""The console's team-lead matrix: EVERY route under /console/team/{name} (from the app's own
route table) × a lead acting on their own group × on another group. In their own group each
answers (a page, a download or a redirect after the change); for another group each is refused
with the 403 page carrying `permission_denied`. A team route added later is checked at once
(and fails here until its path parameters have a builder below)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from tests.packages.factories import make_package
from tests.usage.lead_seed import OTHER_GROUP, OWN_GROUP, seed_teams

from spectra.audit.actor import local_actor, user_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.kit.money import parse_amount
from spectra.ledger import service as ledger_service
from spectra.packages import service as packages_service
from spectra.runtime import Runtime
from spectra.users import service as users_service

from .conftest import Browser
from .test_lead_team_actions import _extension

BrowserFactory = Callable[..., Awaitable[Browser]]
Builder = Callable[[Runtime, Any, Any], Awaitable[str]]


def _team_routes(app: Any) -> list[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        path = getattr(context, "path", "") or ""
        if path == "/console/team/{name}" or path.startswith("/console/team/{name}/"):
            for method in getattr(context, "methods", None) or ():
                if method in ("GET", "POST"):
                    found.add((method, path))
    return sorted(found)


def _as(user: Any) -> Any:
    return user_actor(user_id=user.id, email=user.email, role="member", via="session")


async def _user_id(runtime: Runtime, group: Any, member: Any) -> str:
    return str(member.id)


async def _request_id(runtime: Runtime, group: Any, member: Any) -> str:
    async with session_scope(runtime.db) as session:
        asked = await ledger_service.create_recharge_request(
            session, _as(member), amount=parse_amount("2"), reason="matrix"
        )
    return str(asked.id)


async def _key_id(runtime: Runtime, group: Any, member: Any) -> str:
    async with session_scope(runtime.db) as session:
        key, _ = await keys_service.create_key(session, local_actor(), user_id=member.id)
    return str(key.id)


async def _assignment_id(runtime: Runtime, group: Any, member: Any) -> str:
    async with session_scope(runtime.db) as session:
        package = await make_package(session)
        await packages_service.set_group_default_package(
            session, local_actor(), group=group.name, package=package.package.name
        )
        detail = await packages_service.assign_package(
            session, local_actor(), package=package.package.name, user_id=member.id
        )
    return str(detail.assignment.id)


async def _extension_id(runtime: Runtime, group: Any, member: Any) -> str:
    return str((await _extension(runtime, member, "2")).id)


BUILDERS: dict[str, Builder] = {
    "user_id": _user_id,
    "request_id": _request_id,
    "key_id": _key_id,
    "assignment_id": _assignment_id,
    "extension_id": _extension_id,
}
"""A value for each path parameter, made for a member of the run's group."""


def test_the_matrix_has_a_builder_for_every_team_route(app: Any) -> None:
    routes = _team_routes(app)
    assert len(routes) >= 14
    for _, path in routes:
        params = [p.split("}")[0] for p in path.split("{")[1:]]
        assert set(params) - {"name"} <= set(BUILDERS), path


@pytest.mark.parametrize("run", ["own", "other"])
async def test_lead_console_matrix(
    run: str, app: Any, runtime: Runtime, browser: BrowserFactory
) -> None:
    lead = await browser(role="member")
    teams = await seed_teams(runtime, lead.user)
    group, member = (teams.mine, teams.alice) if run == "own" else (teams.other, teams.bob)
    async with session_scope(runtime.db) as session:
        await ledger_service.recharge(
            session,
            local_actor(),
            group_id=group.id,
            amount=parse_amount("100"),
            memo="matrix: group budget",
            idempotency_key=f"matrix-fund:{group.id}",
        )
    wrong: list[str] = []
    for method, path in _team_routes(app):
        url = path.replace("{name}", OWN_GROUP if run == "own" else OTHER_GROUP)
        for param, build in BUILDERS.items():
            if "{" + param + "}" in url:
                url = url.replace("{" + param + "}", await build(runtime, group, member))
        if path.endswith("/reactivate"):  # only a suspended member can be reactivated
            async with session_scope(runtime.db) as session:
                await users_service.suspend_user(
                    session, local_actor(), user=member.id, reason="matrix"
                )
        data = {"email": f"new-{run}-{len(wrong)}@example.com", "name": "New"}
        response = (
            await lead.get(url)
            if method == "GET"
            else await lead.post_form(url, data, referer=f"/console/team/{OWN_GROUP}")
        )
        where = f"{method} {path} ({run} group): {response.status_code}"
        if run == "own" and response.status_code >= 400:
            wrong.append(f"{where} {response.text[:200]}")
        if run == "other" and (
            response.status_code != 403
            or 'data-error-code="permission_denied"' not in response.text
        ):
            wrong.append(where)
        if run == "own" and response.status_code == 303:
            landed = await lead.get(response.headers["location"])
            if 'class="flash error"' in landed.text:
                wrong.append(f"{where}: refused with a flash")
    assert not wrong, "\n".join(wrong)
