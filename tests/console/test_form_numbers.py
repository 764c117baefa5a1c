"""Console forms refuse out-of-range whole numbers with a message next to the field, never a
500 (the REST API bounds the same fields in its schemas; a form reaches the service directly)."""

from __future__ import annotations

from typing import Any

import pytest

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.packages import service as packages_service
from spectra.packages.schemas import PackageCreate
from spectra.runtime import Runtime

HUGE = "1" + "0" * 30


@pytest.mark.parametrize("field", ["to_version", "from_version"])
async def test_a_huge_version_on_migrate_is_refused_not_a_500(
    browser: Any, runtime: Runtime, field: str
) -> None:
    async with session_scope(runtime.db) as session:
        await packages_service.create_package(
            session,
            local_actor(),
            data=PackageCreate(name="Power", allowance="10", period="monthly"),
        )
    b = await browser(role="admin")
    for preview in ("on", ""):
        response = await b.post_form(
            "/console/packages/Power/migrate", {field: HUGE, "preview": preview}
        )
        assert response.status_code < 500, response.text
        page = (
            await b.get(response.headers["location"], follow_redirects=True)
            if response.status_code == 303
            else response
        )
        assert "whole number" in page.text
