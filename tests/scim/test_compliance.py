"""scim2-tester (the python-scim project's RFC 7643/7644 checker) against Spectra's /scim/v2,
served by uvicorn on a local port: no check may fail."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server
from tests.gateway.world import serve

from spectra.runtime import Runtime

from .conftest import SCIM, make_owner_and_token


def _run(base_url: str, token: str) -> list[CheckResult]:
    with httpx2.Client(
        base_url=base_url + SCIM, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        client = SyncSCIMClient(http)
        return check_server(client)


# Each check skipped here is named with why; every other check must pass.
KNOWN = {
    # Spectra deliberately keeps groups (wallets, budgets, history): DELETE /Groups/{id} answers
    # 501, which RFC 7644 §3.12 allows ("service provider does not support the request
    # operation"); the checker requires a deletion. A Spectra limitation, not the checker's.
    ("object_deletion", "Group"),
    # RFC 7644 §3.5.2.2 makes a removed singular attribute unassigned; Spectra always knows
    # whether a user may work, so `active` stays a boolean (a removal leaves it unchanged).
    ("check_remove_attribute", "User", "active"),
}


def _known(result: CheckResult) -> bool:
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    return (result.title, result.resource_type) in KNOWN or (
        result.title,
        result.resource_type,
        str(urn),
    ) in KNOWN


async def test_scim2_tester_finds_no_failure(runtime: Runtime, app: Any) -> None:
    token = await make_owner_and_token(runtime)
    async with serve(app) as base_url:
        results = await asyncio.to_thread(_run, base_url, token)
    failures = [
        f"{r.title} ({r.resource_type}): {r.reason}"
        for r in results
        if r.status in (Status.ERROR, Status.CRITICAL) and not _known(r)
    ]
    assert not failures, "\n".join(failures)
    assert any(r.status == Status.SUCCESS for r in results)
    # The skipped checks still run, and still fail only as described.
    assert {r.title for r in results if r.status == Status.ERROR} <= {k[0] for k in KNOWN}
