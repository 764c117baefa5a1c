"""/scim/v2/Groups: a Spectra group is a SCIM group; its members are the users whose home
group it is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from scim2_models import Context, Group, PatchOp
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
    Query,
    ScimActor,
    ScimSession,
    answer,
    base_url,
    created,
    find_group,
    group_view,
    groups_page,
    list_answer,
    parse_filter,
    patched,
    query_from_body,
    query_from_params,
    read_body,
    shown_of,
    window,
)

router = APIRouter(route_class=ScimRoute)


@router.get("/Groups")
async def list_groups(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_groups(request, session, actor, query_from_params(request))


@router.post("/Groups/.search")
async def search_groups(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_groups(request, session, actor, await query_from_body(request))


async def _list_groups(request: Request, session: Session, actor: Actor, query: Query) -> Response:
    start, count = window(query)
    where = parse_filter(query.filter, ("displayName",))
    total, items = await groups_page(
        session,
        actor,
        where[1] if where else None,
        (start - 1, count),
        base_url(request),
        query.shown,
    )
    return list_answer(items, total, start)


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


@router.get("/Groups/{group_id}")
async def get_group(
    group_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    group = await find_group(session, actor, group_id)
    shown = await group_view(session, actor, group, base_url(request))
    return answer(resources.dump(shown, shown=shown_of(request)))


async def _apply_group(
    session: Session,
    actor: Actor,
    group: models.Group,
    before: resources.ScimGroup,
    wanted: resources.ScimGroup,
) -> None:
    if wanted.display_name and wanted.display_name != group.name:
        await users_service.update_group(session, actor, group=group.id, name=wanted.display_name)
    await users_service.set_group_external_id(
        session, actor, group=group.id, external_id=wanted.external_id
    )
    current = await users_service.group_members(session, actor, group_ids=[group.id])
    await resources.apply_members(session, actor, group, current[group.id], wanted)


@router.put("/Groups/{group_id}")
async def replace_group(
    group_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    group = await find_group(session, actor, group_id)
    base = base_url(request)
    before = await group_view(session, actor, group, base)
    wanted = Group.model_validate(
        await read_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )
    await _apply_group(session, actor, group, before, wanted)
    shown = await group_view(session, actor, group, base)
    return answer(resources.dump(shown, Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Groups/{group_id}")
async def patch_group(
    group_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    group = await find_group(session, actor, group_id)
    base = base_url(request)
    before = await group_view(session, actor, group, base)
    wanted = await patched(request, PatchOp[Group], before)
    if wanted is not None:
        await _apply_group(session, actor, group, before, wanted)
    shown = await group_view(session, actor, group, base)
    return answer(resources.dump(shown, Context.RESOURCE_PATCH_RESPONSE))


@router.delete("/Groups/{group_id}")
async def delete_group(group_id: str, session: ScimSession, actor: ScimActor) -> Response:
    """Spectra keeps a group (its wallet, budgets and history); an identity provider empties it
    with a PATCH or PUT of its members instead."""
    await find_group(session, actor, group_id)
    raise ScimNotImplementedError(
        "Spectra does not delete groups (their wallets, budgets and history stay); "
        "empty it by removing its members instead."
    )
