"""Routes the `spectra` command needed to become a pure REST client: usage rollups on demand,
the audit export's event count, and streamed progress for bulk package changes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from spectra.audit.actor import Actor, ActorKind, local_actor
from spectra.db.session import read_scope
from spectra.packages.models import PackageAssignment
from spectra.runtime import Runtime

NDJSON = {"accept": "application/x-ndjson"}


def _member() -> Actor:
    return Actor(kind=ActorKind.USER, label="m@example.com", user_id=uuid.uuid4(), role="member")


async def test_rollup_runs_on_demand_for_readers_of_everything(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None]
) -> None:
    act_as(local_actor())
    done = await client.post("/api/usage/rollup")
    assert (done.status_code, done.json()) == (200, {"counted": 0})
    act_as(_member())
    refused = await client.post("/api/usage/rollup")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")


async def test_audit_export_says_how_many_events_match(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None]
) -> None:
    act_as(local_actor())
    for name in ("A", "B"):
        assert (await client.post("/api/groups", json={"name": name})).status_code == 201
    answer = await client.get("/api/audit/export", params={"format": "csv", "action": "groups.*"})
    assert answer.headers["x-total-count"] == "2"
    assert len(answer.text.splitlines()) == 3


async def _team(client: httpx.AsyncClient) -> None:
    await client.post("/api/groups", json={"name": "Team"})
    for i in range(3):
        made = await client.post("/api/users", json={"email": f"t{i}@example.com", "group": "Team"})
        assert made.status_code == 201, made.text
    package = {"name": "Starter", "allowance": "20", "period": "monthly"}
    assert (await client.post("/api/packages", json=package)).status_code == 201


def _lines(answer: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


async def _assignments(runtime: Runtime) -> int:
    async with read_scope(runtime.db) as session:
        return int(await session.scalar(select(func.count()).select_from(PackageAssignment)) or 0)


async def test_a_bulk_assignment_streams_its_progress_then_the_committed_result(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None], runtime: Runtime
) -> None:
    act_as(local_actor())
    await _team(client)
    answer = await client.post(
        "/api/packages/Starter/assignments/bulk", json={"group": "Team"}, headers=NDJSON
    )
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    *steps, last = _lines(answer)
    assert steps
    assert steps[-1]["progress"]["done"] == steps[-1]["progress"]["total"] == 3
    assert (last["result"]["applied"], last["result"]["gain"]) == (True, 3)
    assert await _assignments(runtime) == 3


async def test_a_refused_bulk_change_ends_its_stream_with_the_error_and_writes_nothing(
    client: httpx.AsyncClient, act_as: Callable[[Actor], None], runtime: Runtime
) -> None:
    act_as(local_actor())
    await _team(client)
    bad_csv = "email,package\nt0@example.com,Starter\nghost@example.com,Starter\n"
    answer = await client.post(
        "/api/package-assignments/import", json={"csv": bad_csv}, headers=NDJSON
    )
    last = _lines(answer)[-1]
    assert last["error"]["status"] == 422
    assert [r["email"] for r in last["error"]["details"]["rejected"]] == ["ghost@example.com"]
    assert await _assignments(runtime) == 0
    plain = await client.post("/api/packages/Starter/migrate", json={"preview": True})
    assert plain.headers["content-type"].startswith("application/json")


async def test_the_new_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    assert "/api/usage/rollup" in spec["paths"]
    bulk = spec["paths"]["/api/packages/{name}/assignments/bulk"]["post"]["responses"]["200"]
    assert set(bulk["content"]) >= {"application/json", "application/x-ndjson"}
