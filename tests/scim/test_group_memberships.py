"""SCIM and several groups per user: the first directory group is the primary one, further
groups are secondary; leaving the primary group promotes the oldest secondary one
(docs/identity.md, "Several groups per user")."""

from __future__ import annotations

from typing import Any

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.runtime import Runtime
from spectra.users import service as users_service

from .conftest import Scim
from .test_groups import GROUP_SCHEMA, _home, _member_id, _members
from .test_users import PATCH_SCHEMA


async def _group(scim: Scim, name: str, members: list[str]) -> dict[str, Any]:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m} for m in members],
    }
    created = await scim.call("POST", "/Groups", body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _groups_of(runtime: Runtime, user_id: str) -> list[tuple[str, bool]]:
    async with session_scope(runtime.db) as session:
        page = await users_service.list_memberships(session, local_actor(), user=user_id)
    return [(m.group, m.is_primary) for m in page.items]


async def test_the_first_group_is_primary_and_the_next_ones_secondary(
    scim: Scim, runtime: Runtime
) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    platform = await _group(scim, "Platform", [ada])
    mobile = await _group(scim, "Mobile", [ada])
    assert await _home(runtime, "ada@example.com") == "Platform"
    assert await _groups_of(runtime, ada) == [("Platform", True), ("Mobile", False)]
    assert await _members(scim, mobile["id"]) == {ada}
    assert await _members(scim, platform["id"]) == {ada}


async def test_leaving_the_primary_group_promotes_the_secondary_one(
    scim: Scim, runtime: Runtime
) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    platform = await _group(scim, "Platform", [ada])
    await _group(scim, "Mobile", [ada])
    remove = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": f'members[value eq "{ada}"]'}],
    }
    response = await scim.call("PATCH", f"/Groups/{platform['id']}", remove)
    assert response.status_code == 200, response.text
    assert await _groups_of(runtime, ada) == [("Mobile", True)]
    assert await _members(scim, platform["id"]) == set()


async def test_leaving_a_secondary_group_keeps_the_primary(scim: Scim, runtime: Runtime) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    await _group(scim, "Platform", [ada])
    mobile = await _group(scim, "Mobile", [ada])
    put = {"schemas": [GROUP_SCHEMA], "displayName": "Mobile", "members": []}
    assert (await scim.call("PUT", f"/Groups/{mobile['id']}", put)).status_code == 200
    assert await _groups_of(runtime, ada) == [("Platform", True)]


async def _user_groups(scim: Scim, user_id: str) -> list[str]:
    shown = await scim.call("GET", f"/Users/{user_id}")
    assert shown.status_code == 200, shown.text
    return [g["display"] for g in shown.json().get("groups", [])]


async def test_the_user_resource_lists_every_group_primary_first(scim: Scim) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    bob = await _member_id(scim, "bob@example.com", "e2")
    platform = await _group(scim, "Platform", [ada, bob])
    mobile = await _group(scim, "Mobile", [ada])
    data = await _group(scim, "Data", [ada])
    assert await _user_groups(scim, ada) == ["Platform", "Mobile", "Data"]
    assert await _user_groups(scim, bob) == ["Platform"]
    listed = (await scim.call("GET", "/Users", filter='userName eq "ada@example.com"')).json()
    groups = listed["Resources"][0]["groups"]
    assert [g["value"] for g in groups] == [platform["id"], mobile["id"], data["id"]]
    assert groups[1]["$ref"].endswith(f"/Groups/{mobile['id']}")


async def test_patching_a_secondary_group_leaves_the_primary_alone(
    scim: Scim, runtime: Runtime
) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    await _group(scim, "Platform", [ada])
    mobile = await _group(scim, "Mobile", [])
    data = await _group(scim, "Data", [])
    for group in (mobile, data):
        add = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": ada}]}],
        }
        response = await scim.call("PATCH", f"/Groups/{group['id']}", add)
        assert response.status_code == 200, response.text
    assert await _groups_of(runtime, ada) == [
        ("Platform", True),
        ("Mobile", False),
        ("Data", False),
    ]
    # Adding again is no change; removing from one secondary group leaves the rest as it was.
    again = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": ada}]}],
    }
    assert (await scim.call("PATCH", f"/Groups/{mobile['id']}", again)).status_code == 200
    remove = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": f'members[value eq "{ada}"]'}],
    }
    assert (await scim.call("PATCH", f"/Groups/{mobile['id']}", remove)).status_code == 200
    assert await _groups_of(runtime, ada) == [("Platform", True), ("Data", False)]
    assert await _home(runtime, "ada@example.com") == "Platform"
    assert await _user_groups(scim, ada) == ["Platform", "Data"]
    assert await _members(scim, mobile["id"]) == set()
