"""A team lead's usage report, timeseries and adoption through the REST API: only the groups
they lead, with totals equal to those groups' rows in the workspace report; the other group's
members, spend and clients appear in no answer (JSON, CSV or JSON lines)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from tests.factories import make_user

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.keys import service as keys_service
from spectra.runtime import Runtime

from .lead_seed import ALICE_COST, BOB_COST, OWN_GROUP, Teams, seed_teams


async def _owner_headers(runtime: Runtime) -> dict[str, str]:
    async with session_scope(runtime.db) as session:
        owner = await make_user(session, email="owner@example.com", role="owner")
        _, secret = await keys_service.create_token(session, local_actor(), user_id=owner.id)
    return {"authorization": f"Bearer {secret}"}


def _clean(teams: Teams, text: str) -> None:
    leaked = [s for s in teams.forbidden_strings() if s in text]
    assert not leaked, f"the lead's answer shows {leaked}"


def _rows(text: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines() if line]


async def _get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> httpx.Response:
    return await client.get(path, params=params, headers=headers)


@pytest.mark.parametrize("by", ["user", "group", "model", "client", "key"])
async def test_a_leads_report_shows_their_groups_and_totals_match_the_group_rows(
    by: str, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    teams = await seed_teams(runtime)
    owner = await _owner_headers(runtime)
    workspace = await _get(client, "/api/usage/report", owner, by="group", **teams.range_params)
    assert workspace.status_code == 200, workspace.text
    group_rows = {row["key"]: row for row in workspace.json()["items"]}
    assert group_rows[str(teams.other.id)]["cost_micros"] == 3 * BOB_COST  # it is there to hide

    mine = await _get(client, "/api/usage/report", teams.lead_headers, by=by, **teams.range_params)
    assert mine.status_code == 200, mine.text
    data = mine.json()
    own = group_rows[str(teams.mine.id)]
    assert data["totals"]["cost_micros"] == own["cost_micros"] == teams.own_total()
    assert data["totals"]["requests"] == own["requests"] == 3
    assert sum(row["cost_micros"] for row in data["items"]) == own["cost_micros"]
    _clean(teams, mine.text)
    if by == "user":
        assert [row["label"] for row in data["items"]] == [teams.alice.email]
    for fmt in ("csv", "jsonl"):
        download = await _get(
            client, "/api/usage/report", teams.lead_headers, by=by, format=fmt, **teams.range_params
        )
        assert download.status_code == 200
        assert sum(int(row["cost_micros"]) for row in _rows(download.text, fmt)) == (
            teams.own_total()
        )
        _clean(teams, download.text)


async def test_a_leads_timeseries_and_adoption_cover_only_their_groups(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    teams = await seed_teams(runtime)
    series = await _get(client, "/api/usage/timeseries", teams.lead_headers, **teams.range_params)
    assert series.status_code == 200, series.text
    items = series.json()["items"]
    assert [row["cost_micros"] for row in items] == [2 * ALICE_COST, ALICE_COST]
    _clean(teams, series.text)
    bobs = await _get(
        client,
        "/api/usage/timeseries",
        teams.lead_headers,
        dimension="user",
        value=str(teams.bob.id),
        **teams.range_params,
    )
    assert bobs.status_code == 200
    assert bobs.json()["items"] == []
    hourly = await _get(
        client, "/api/usage/timeseries", teams.lead_headers, period="hour", format="csv"
    )
    assert hourly.status_code == 200
    assert hourly.text.count("\n") == 1 + 3  # the header and alice's three hours
    _clean(teams, hourly.text)

    adoption = await _get(client, "/api/usage/adoption", teams.lead_headers, **teams.range_params)
    assert adoption.status_code == 200, adoption.text
    assert [
        (a["client"], a["members"], a["share_of_members"], a["cost_micros"])
        for a in adoption.json()["items"]
    ] == [("claude_code", 1, "1.0000", teams.own_total())]
    _clean(teams, adoption.text)
    download = await _get(
        client, "/api/usage/adoption", teams.lead_headers, format="csv", **teams.range_params
    )
    assert [row["client"] for row in _rows(download.text, "csv")] == ["claude_code"]
    _clean(teams, download.text)


async def test_a_lead_is_refused_another_group_and_the_pool_accounts(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    teams = await seed_teams(runtime)
    named = await _get(client, "/api/usage/report", teams.lead_headers, by="user", group=OWN_GROUP)
    assert named.status_code == 200
    assert named.json()["totals"]["cost_micros"] == teams.own_total()
    for path, params in (
        ("/api/usage/report", {"by": "user", "group": teams.other.name}),
        ("/api/usage/report", {"by": "user", "group": "no-such-group"}),
        ("/api/usage/report", {"by": "account"}),
        ("/api/usage/timeseries", {"dimension": "account"}),
        ("/api/usage/timeseries", {"group": teams.other.name}),
        ("/api/usage/adoption", {"group": teams.other.name}),
    ):
        refused = await _get(client, path, teams.lead_headers, **params)
        assert refused.status_code == 403, (path, params, refused.text)
        assert refused.json()["error"]["code"] == "permission_denied"
        _clean(teams, refused.text)


async def test_a_member_who_leads_nothing_still_reads_no_report(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    teams = await seed_teams(runtime)
    headers = {}
    async with session_scope(runtime.db) as session:
        _, secret = await keys_service.create_token(session, local_actor(), user_id=teams.alice.id)
        headers = {"authorization": f"Bearer {secret}"}
    for path in ("/api/usage/report?by=user", "/api/usage/adoption", "/api/usage/timeseries"):
        refused = await client.get(path, headers=headers)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "permission_denied"
    own = await client.get(
        "/api/usage/timeseries",
        params={"dimension": "user", "value": str(teams.alice.id)},
        headers=headers,
    )
    assert own.status_code == 200
    assert sum(row["cost_micros"] for row in own.json()["items"]) == teams.own_total()


async def test_an_admin_may_narrow_a_report_to_one_group(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    teams = await seed_teams(runtime)
    owner = await _owner_headers(runtime)
    narrowed = await _get(
        client, "/api/usage/report", owner, by="model", group=teams.other.name, **teams.range_params
    )
    assert narrowed.status_code == 200
    assert [(r["key"], r["cost_micros"]) for r in narrowed.json()["items"]] == [
        ("gpt-5", 3 * BOB_COST)
    ]
