"""explain (same decision and trace as the gateway), group funding switches, /api/me, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import select
from tests.gateway.world import OWNER, World, build_world
from tests.support.cli import Done, run_spectra

from spectra.audit.models import AuditEvent
from spectra.db.session import read_scope, session_scope
from spectra.policy import service as policy_service
from spectra.runtime import Runtime


class TestExplain:
    async def test_explains_wallet_funding(self, runtime: Runtime) -> None:
        world = await build_world(runtime)
        await world.add_account(
            "openai-a", provider="openai", base_url="http://127.0.0.1:9/v1", models=["gpt-*"]
        )
        await world.recharge("5")
        async with read_scope(runtime.db) as session:
            decision = await policy_service.explain(session, OWNER, user=world.email, model="gpt-5")
        assert decision.allowed
        assert [f.kind for f in decision.funding] == ["user_wallet"]
        assert decision.funding[0].available_micros == 5_000_000

    async def test_explains_a_key_scope_refusal(self, runtime: Runtime) -> None:
        world = await build_world(runtime, scopes=["claude-*"])
        async with read_scope(runtime.db) as session:
            decision = await policy_service.explain(
                session, OWNER, user=world.email, model="gpt-5", key_id=world.key_id
            )
        assert decision.reason_code == "model_not_in_key_scope"


class TestSetGroupFunding:
    async def test_switches_off_and_audits(self, runtime: Runtime) -> None:
        world = await build_world(runtime)
        await world.recharge("5")
        async with session_scope(runtime.db) as session:
            await policy_service.set_group_funding(
                session, OWNER, group=world.group_id, wallet_fallback=False
            )
        async with read_scope(runtime.db) as session:
            decision = await policy_service.explain(session, OWNER, user=world.email, model="gpt-5")
            audit = (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "policy.group_funding")
                )
            ).scalar_one()
        assert decision.reason_code == "wallet_empty"
        assert audit.after == {"wallet_fallback": False, "group_wallet_fallback": True}


async def test_api_me_with_a_member_key(
    client: httpx.AsyncClient, runtime: Runtime, app: object
) -> None:
    world = await build_world(runtime)
    await world.recharge("12.50")
    await world.give_package("Starter", allowance="20", patterns=["claude-*"])
    resp = await client.get("/api/me", headers={"authorization": f"Bearer {world.secret}"})
    assert resp.status_code == 200, resp.text
    me = resp.json()
    assert me["via"] == "key"
    assert me["wallet"]["balance"] == "12.50"
    (pkg,) = me["packages"]
    assert (pkg["package"], pkg["allowance"], pkg["left"], pkg["used"]) == (
        "Starter",
        "20.00",
        "20.00",
        "0.00",
    )
    assert pkg["resets_at"]
    assert isinstance(me["models"], list)


async def test_api_explain(
    client: httpx.AsyncClient, runtime: Runtime, app: object, act_as: object
) -> None:
    world = await build_world(runtime)
    act_as(OWNER)  # type: ignore[operator]
    resp = await client.get("/api/policy/explain", params={"user": world.email, "model": "gpt-5"})
    assert resp.status_code == 200
    assert resp.json()["reason_code"] == "wallet_empty"


def test_cli_explain_json(tmp_path: Path) -> None:
    env = {"SPECTRA_DATA_DIR": str(tmp_path)}

    def run(*args: str) -> Done:
        return run_spectra(list(args), env)

    assert run("users", "create", "tom@example.com").returncode == 0
    result = run("policy", "explain", "--user", "tom@example.com", "--model", "gpt-5", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["allowed"] is False
    assert data["reason_code"] == "wallet_empty"
    assert [s["rule"] for s in data["trace"]][:2] == ["key_scope", "user_status"]


_ = World
