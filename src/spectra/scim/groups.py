"""/scim/v2/Groups: a Spectra group is a SCIM group; its members are the users whose home
group it is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from scim2_models import Context, Group
from starlette.responses import Response

from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.users import models
from spectra.users import service as users_service

from . import resources
from .errors import (
    ScimInvalidError,
    ScimNotImplementedError,
    ScimRoute,
)
from .http import (
    ScimActor,
    ScimSession,
    base_url,
    created,
    find_group,
    group_view,
    groups_page,
    read_body,
)
from .kinds import ScimKind, item_routes, list_routes

router = APIRouter(route_class=ScimRoute)


async def _apply_group(
    session: Session,
    actor: Actor,
    group: models.Group,
    before: resources.ScimGroup,
    wanted: resources.ScimGroup,
) -> models.Group:
    if wanted.display_name and wanted.display_name != group.name:
        await users_service.update_group(session, actor, group=group.id, name=wanted.display_name)
    await users_service.set_group_external_id(
        session, actor, group=group.id, external_id=wanted.external_id
    )
    current = await users_service.group_members(session, actor, group_ids=[group.id])
    await resources.apply_members(session, actor, group, current[group.id], wanted)
    return group


GROUPS: ScimKind[models.Group, resources.ScimGroup] = ScimKind(
    path="Groups",
    noun="group",
    model=Group,
    filters=("displayName",),
    find=find_group,
    view=group_view,
    page=groups_page,
    apply=_apply_group,
)
list_routes(router, GROUPS)


@router.post("/Groups")
async def create_group(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    wanted = Group.model_validate(
        await read_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    if not wanted.display_name:
        raise ScimInvalidError("A group needs a displayName.")
    group = await users_service.create_group(session, actor, name=wanted.display_name)
    await users_service.set_group_external_id(
        session, actor, group=group.id, external_id=wanted.external_id
    )
    await resources.apply_members(session, actor, group, [], wanted)
    return created(await group_view(session, actor, group, base_url(request)))


item_routes(router, GROUPS)


@router.delete("/Groups/{group_id}")
async def delete_group(group_id: str, session: ScimSession, actor: ScimActor) -> Response:
    """Spectra keeps a group (its wallet, budgets and history); an identity provider empties it
    with a PATCH or PUT of its members instead."""
    await find_group(session, actor, group_id)
    raise ScimNotImplementedError(
        "Spectra does not delete groups (their wallets, budgets and history stay); "
        "empty it by removing its members instead."
    )
