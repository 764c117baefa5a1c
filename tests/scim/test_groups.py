"""/scim/v2/Groups: create with members, Okta and Entra ID member patches (add, path-filtered
remove), replace, filter by displayName; joining applies the group's default package."""

from __future__ import annotations

from sqlalchemy import select
from tests.packages.factories import make_package

from spectra.audit.actor import local_actor
from spectra.db.session import session_scope
from spectra.packages import service as packages_service
from spectra.packages.models import PackageAssignment
from spectra.runtime import Runtime
from spectra.users.models import Group, User

from .conftest import Scim
from .test_users import PATCH_SCHEMA, new_user

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


async def _member_id(scim: Scim, email: str, ext: str) -> str:
    created = await scim.call("POST", "/Users", new_user(email, ext))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _home(runtime: Runtime, email: str) -> str:
    async with session_scope(runtime.db) as session:
        user = (await session.execute(select(User).where(User.email == email))).scalar_one()
        return (await session.get(Group, user.group_id)).name  # type: ignore[union-attr]


async def _members(scim: Scim, group_id: str) -> set[str]:
    body = (await scim.call("GET", f"/Groups/{group_id}")).json()
    return {m["value"] for m in body.get("members", [])}


async def test_create_group_with_members_moves_them_in(scim: Scim, runtime: Runtime) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    created = await scim.call(
        "POST",
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Platform",
            "externalId": "g-1",
            "members": [{"value": ada}],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["displayName"], body["externalId"]) == ("Platform", "g-1")
    assert await _members(scim, body["id"]) == {ada}
    assert await _home(runtime, "ada@example.com") == "Platform"
    user = (await scim.call("GET", f"/Users/{ada}")).json()
    assert user["groups"][0]["value"] == body["id"]


async def test_okta_and_entra_member_patches(scim: Scim, runtime: Runtime) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    bob = await _member_id(scim, "bob@example.com", "e2")
    group = (
        await scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Mobile"})
    ).json()
    add = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": ada}, {"value": bob}]}],
    }
    assert (await scim.call("PATCH", f"/Groups/{group['id']}", add)).status_code == 200
    assert await _members(scim, group["id"]) == {ada, bob}
    remove = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": f'members[value eq "{ada}"]'}],
    }
    response = await scim.call("PATCH", f"/Groups/{group['id']}", remove)
    assert response.status_code == 200, response.text
    assert await _members(scim, group["id"]) == {bob}
    assert await _home(runtime, "ada@example.com") == "default"
    rename = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "replace", "value": {"id": group["id"], "displayName": "Mobile Apps"}}
        ],
    }
    assert (await scim.call("PATCH", f"/Groups/{group['id']}", rename)).json()[
        "displayName"
    ] == "Mobile Apps"


async def test_replace_sets_the_member_list(scim: Scim, runtime: Runtime) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    bob = await _member_id(scim, "bob@example.com", "e2")
    group = (
        await scim.call(
            "POST",
            "/Groups",
            {"schemas": [GROUP_SCHEMA], "displayName": "Data", "members": [{"value": ada}]},
        )
    ).json()
    put = {"schemas": [GROUP_SCHEMA], "displayName": "Data", "members": [{"value": bob}]}
    assert (await scim.call("PUT", f"/Groups/{group['id']}", put)).status_code == 200
    assert await _members(scim, group["id"]) == {bob}
    assert await _home(runtime, "ada@example.com") == "default"


async def test_filter_by_display_name(scim: Scim) -> None:
    for name in ("Alpha", "Beta"):
        await scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name})
    found = (await scim.call("GET", "/Groups", filter='displayName eq "beta"')).json()
    assert [g["displayName"] for g in found["Resources"]] == ["Beta"]


async def test_unknown_member_is_refused_and_nothing_changes(scim: Scim, runtime: Runtime) -> None:
    ada = await _member_id(scim, "ada@example.com", "e1")
    response = await scim.call(
        "POST",
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Ghosts",
            "members": [{"value": ada}, {"value": "0190d2a4-0000-7000-8000-000000000000"}],
        },
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    listed = (await scim.call("GET", "/Groups", filter='displayName eq "Ghosts"')).json()
    assert listed["totalResults"] == 0
    assert await _home(runtime, "ada@example.com") == "default"


async def test_joining_through_scim_applies_the_group_default_package(
    scim: Scim, runtime: Runtime
) -> None:
    group = (
        await scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Team"})
    ).json()
    async with session_scope(runtime.db) as session:
        await make_package(session, name="Starter")
        await packages_service.set_group_default_package(
            session, local_actor(), group="Team", package="Starter"
        )
    ada = await _member_id(scim, "ada@example.com", "e1")
    add = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": ada}]}],
    }
    assert (await scim.call("PATCH", f"/Groups/{group['id']}", add)).status_code == 200
    async with session_scope(runtime.db) as session:
        held = (
            (
                await session.execute(
                    select(PackageAssignment).where(
                        PackageAssignment.user_id.in_(
                            select(User.id).where(User.email == "ada@example.com")
                        )
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(held) == 1


async def test_group_delete_is_refused_without_change(scim: Scim) -> None:
    group = (
        await scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Keep"})
    ).json()
    response = await scim.call("DELETE", f"/Groups/{group['id']}")
    assert response.status_code == 501
    assert response.json()["status"] == "501"
    assert (await scim.call("GET", f"/Groups/{group['id']}")).status_code == 200
