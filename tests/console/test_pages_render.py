"""Every console page renders for the roles that may see it and refuses the others."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import make_group

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.runtime import Runtime

ADMIN_PAGES = [
    "/console/pool",
    "/console/fallbacks",
    "/console/users",
    "/console/groups",
    "/console/packages",
    "/console/packages-import",
    "/console/recharges",
    "/console/codes",
    "/console/ledger",
    "/console/ledger/verify",
    "/console/usage",
    "/console/usage/statements",
    "/console/usage/forecast",
    "/console/usage/economics",
    "/console/usage/reconcile",
    "/console/prices",
    "/console/audit",
    "/console/audit/verify",
    "/console/policy",
    "/console/rollouts",
    "/console/rollouts-new",
    "/console/policy/drafts",
    "/console/groups/Platform/policy",
    "/console/settings",
]


async def _seed(runtime: Runtime) -> dict[str, Any]:
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name="Platform")
        await packages_service.create_package(
            session,
            local_actor(),
            data=PackageCreate.model_validate(
                {"name": "Starter", "allowance": "20", "period": "monthly"}
            ),
        )
    return {"group": group}


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_render_for_an_auditor(path: str, browser: Any, runtime: Runtime) -> None:
    await _seed(runtime)
    b = await browser(role="auditor")
    response = await b.get(path)
    assert response.status_code == 200, response.text
    assert "<h1>" in response.text


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_refuse_a_member(path: str, browser: Any) -> None:
    b = await browser(role="member")
    response = await b.get(path)
    assert response.status_code == 403


async def test_detail_pages_render(browser: Any, runtime: Runtime) -> None:
    await _seed(runtime)
    b = await browser(role="owner")
    for path in (
        f"/console/users/{b.user.id}",
        "/console/groups/Platform",
        "/console/packages/Starter",
        "/console/",
        f"/console/policy?user={b.user.email}&model=claude-opus-4-8",
        f"/console/ledger?user={b.user.email}",
        f"/console/usage/statements?user={b.user.email}",
        "/console/usage/statements?group=Platform&since=2026-10-01",
        "/console/usage/forecast?group=Platform",
    ):
        response = await b.get(path)
        assert response.status_code == 200, (path, response.text)


async def test_a_member_landing_on_the_overview_goes_to_the_portal(browser: Any) -> None:
    b = await browser(role="member")
    response = await b.get("/console/")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/me"


@pytest.mark.parametrize("path", [*ADMIN_PAGES, "/console/"])
async def test_admin_pages_have_unique_element_ids(
    path: str, browser: Any, runtime: Runtime
) -> None:
    """Duplicate ids break labels (a label points at the first element with its id)."""
    import collections
    import re

    await _seed(runtime)
    b = await browser(role="owner")
    response = await b.get(path)
    assert response.status_code == 200
    ids = re.findall(r'\sid="([^"]+)"', response.text)
    duplicated = sorted(i for i, n in collections.Counter(ids).items() if n > 1)
    assert not duplicated, f"{path} repeats element ids: {duplicated}"
