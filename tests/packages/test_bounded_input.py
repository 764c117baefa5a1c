"""Bad input on the package routes answers a 4xx with a stable code, never a 500: a null for a
term that cannot be empty, limits beyond a 32-bit integer, a version beyond one."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from tests.ledger.factories import admin

from spectra.audit.actor import Actor

ADMIN = admin(role="owner")
HUGE = 10**30


async def _package(client: httpx.AsyncClient, name: str) -> None:
    answer = await client.post(
        "/api/packages", json={"name": name, "allowance": "20.00", "period": "monthly"}
    )
    assert answer.status_code == 201, answer.text


class TestBoundedPackageInput:
    async def test_a_null_model_list_is_a_422(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        await _package(client, "pro")
        for field in ("model_patterns", "allowance", "period"):
            answer = await client.patch("/api/packages/pro", json={field: None})
            assert answer.status_code == 422, (field, answer.text)
        kept = await client.get("/api/packages/pro")
        assert kept.json()["terms"]["model_patterns"] == ["*"]

    async def test_a_huge_tpm_is_a_422(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        answer = await client.post(
            "/api/packages",
            json={"name": "big", "allowance": "1.00", "period": "monthly", "tpm": HUGE},
        )
        assert answer.status_code == 422, answer.text
        await _package(client, "small")
        patched = await client.patch("/api/packages/small", json={"rpm": HUGE})
        assert patched.status_code == 422, patched.text

    async def test_a_huge_from_version_is_a_422(
        self, client: httpx.AsyncClient, act_as: Callable[[Actor], None]
    ) -> None:
        act_as(ADMIN)
        await _package(client, "team")
        answer = await client.post(
            "/api/packages/team/migrate", json={"from_version": HUGE, "preview": True}
        )
        assert answer.status_code == 422, answer.text
