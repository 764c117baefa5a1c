"""The REST API: catalog, assignment with preview, cancel, CSV import, group default, member view."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import httpx
from tests.factories import make_group, make_user

from spectra.audit.actor import Actor, ActorKind, local_actor
from spectra.db.session import session_scope
from spectra.ledger import service as ledger_service
from spectra.runtime import Runtime


async def test_catalog_assign_and_member_view(
    client: httpx.AsyncClient, runtime: Runtime, act_as: Callable[[Actor], None], clock: datetime
) -> None:
    async with session_scope(runtime.db) as session:
        group = await make_group(session, name="Platform")
        priya = await make_user(session, email="priya@example.com", group=group)
        await make_user(session, email="tom@example.com", group=group)
    act_as(local_actor())
    created = await client.post(
        "/api/packages",
        json={
            "name": "Power",
            "allowance": "100.00",
            "period": "monthly",
            "model_patterns": ["*"],
            "rpm": 120,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["terms"]["allowance"] == "100.00"
    assert created.json()["terms"]["allowance_micros"] == 100_000_000
    bad = await client.post(
        "/api/packages", json={"name": "X", "allowance": "1.0000001", "period": "daily"}
    )
    assert bad.status_code == 422
    preview = await client.post(
        "/api/packages/Power/assignments/bulk", json={"group": "Platform", "preview": True}
    )
    assert preview.status_code == 200, preview.text
    assert (preview.json()["gain"], preview.json()["applied"]) == (2, False)
    assert preview.json()["allowance_delta"] == "200.00"
    applied = await client.post("/api/packages/Power/assignments/bulk", json={"group": "Platform"})
    assert applied.json()["applied"] is True
    again = await client.post(
        "/api/packages/Power/assignments", json={"email": "priya@example.com"}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "package_already_assigned"
    edited = await client.patch("/api/packages/Power", json={"rpm": 60, "note": "tighten"})
    assert edited.json()["current_version"] == 2
    versions = await client.get("/api/packages/Power/versions")
    assert [v["version"] for v in versions.json()["items"]] == [1, 2]

    admin_view = await client.get(f"/api/users/{priya.id}/packages")
    assert admin_view.status_code == 200, admin_view.text
    by_email = await client.get("/api/users/priya@example.com/packages")
    assert by_email.json() == admin_view.json()
    act_as(
        Actor(
            kind=ActorKind.USER, label=priya.email, user_id=priya.id, role="member", via="session"
        )
    )
    mine = await client.get("/api/me/packages")
    assert mine.status_code == 200, mine.text
    (item,) = mine.json()["items"]
    assert item == admin_view.json()["items"][0]
    assert (item["package"], item["remaining"], item["used"], item["rpm"]) == (
        "Power",
        "100.00",
        "0.00",
        120,
    )
    async with session_scope(runtime.db) as session:
        balance = await ledger_service.balance(session, uuid.UUID(item["allowance_account_id"]))
    assert item["remaining_micros"] == balance
    other = await client.get("/api/users/tom@example.com/packages")
    assert other.status_code == 403
    forbidden = await client.post(
        "/api/packages", json={"name": "Y", "allowance": "1", "period": "daily"}
    )
    assert forbidden.status_code == 403
    # A member cannot tell from the answer whether an email belongs to someone.
    for email in ("tom@example.com", "nobody@example.com"):
        single = await client.post("/api/packages/Power/assignments", json={"email": email})
        bulk = await client.post(
            "/api/packages/Power/assignments/bulk", json={"emails": [email], "preview": True}
        )
        assert (single.status_code, bulk.status_code) == (403, 403), (single.text, bulk.text)

    act_as(local_actor())
    cancelled = await client.post(
        f"/api/package-assignments/{item['assignment_id']}/cancel",
        json={"when": "now", "reason": "left"},
    )
    assert cancelled.json()["status"] == "cancelled"
    listed = await client.get(
        "/api/package-assignments", params={"package": "Power", "status": "active"}
    )
    mine_listed = await client.get("/api/package-assignments", params={"user": "priya@example.com"})
    assert [a["status"] for a in mine_listed.json()["items"]] == ["cancelled"]
    assert [a["email"] for a in listed.json()["items"]] == ["tom@example.com"]


async def test_import_rejects_all_or_nothing_and_group_default(
    client: httpx.AsyncClient, runtime: Runtime, act_as: Callable[[Actor], None], clock: datetime
) -> None:
    async with session_scope(runtime.db) as session:
        await make_group(session, name="Mobile")
        await make_user(session, email="a@example.com")
    act_as(local_actor())
    await client.post(
        "/api/packages", json={"name": "Starter", "allowance": "20", "period": "monthly"}
    )
    rejected = await client.post(
        "/api/package-assignments/import",
        json={"csv": "email,package\na@example.com,Starter\nz@example.com,Starter\n"},
    )
    assert rejected.status_code == 422
    body = rejected.json()["error"]
    assert body["code"] == "package_import_rejected"
    assert body["details"]["rejected"][0]["line"] == 3
    assert (await client.get("/api/package-assignments")).json()["items"] == []
    ok = await client.post(
        "/api/package-assignments/import", json={"csv": "email,package\na@example.com,Starter\n"}
    )
    assert ok.json()["items"][0]["gain"] == 1
    put = await client.put("/api/groups/Mobile/default-package", json={"package": "Starter"})
    assert put.status_code == 200
    defaults = await client.get("/api/group-default-packages")
    assert defaults.json()["items"][0]["package"] == "Starter"


async def test_import_of_text_that_is_not_csv_is_a_422_not_a_500(
    client: httpx.AsyncClient, runtime: Runtime, act_as: Callable[[Actor], None]
) -> None:
    """Found by the API fuzz: a carriage return inside an unquoted field, and a field over the
    csv module's size limit, raised csv.Error out of the service (a 500)."""
    act_as(local_actor())
    stray_return = await client.post(
        "/api/package-assignments/import", json={"csv": "email,pack\rage\na@example.com,S\n"}
    )
    assert stray_return.status_code == 422
    assert stray_return.json()["error"]["code"] == "package_terms_invalid"
    huge_field = await client.post(
        "/api/package-assignments/import",
        json={"csv": 'email,package\n"' + "x" * 200_000 + '",Starter\n'},
    )
    assert huge_field.status_code == 422
    assert huge_field.json()["error"]["code"] == "package_import_rejected"
    assert "not valid CSV" in huge_field.json()["error"]["message"]
