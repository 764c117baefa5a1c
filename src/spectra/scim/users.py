"""/scim/v2 discovery, Users and the root search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from scim2_models import Context, PatchOp, User
from starlette.responses import Response

from spectra.audit.actor import Actor
from spectra.db.session import Session
from spectra.users import service as users_service

from . import discovery, resources
from .errors import (
    ScimRoute,
)
from .http import (
    Query,
    ScimActor,
    ScimSession,
    answer,
    base_url,
    created,
    find_user,
    groups_page,
    list_answer,
    not_found,
    parse_filter,
    patched,
    query_from_body,
    query_from_params,
    read_body,
    shown_of,
    user_view,
    users_page,
    window,
)

router = APIRouter(route_class=ScimRoute)


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, actor: ScimActor) -> Response:
    return answer(discovery.service_provider_config(base_url(request)))


@router.get("/ResourceTypes")
async def resource_types(request: Request, actor: ScimActor) -> Response:
    found = discovery.resource_types(base_url(request))
    return list_answer(found, len(found), 1)


@router.get("/ResourceTypes/{name}")
async def resource_type(name: str, request: Request, actor: ScimActor) -> Response:
    return _by_id(discovery.resource_types(base_url(request)), name, "ResourceType")


@router.get("/Schemas")
async def schemas(request: Request, actor: ScimActor) -> Response:
    found = discovery.schemas(base_url(request))
    return list_answer(found, len(found), 1)


@router.get("/Schemas/{schema_id}")
async def schema(schema_id: str, request: Request, actor: ScimActor) -> Response:
    return _by_id(discovery.schemas(base_url(request)), schema_id, "Schema")


def _by_id(found: list[dict[str, Any]], ref: str, kind: str) -> Response:
    for one in found:
        if one["id"] == ref:
            return answer(one)
    not_found(kind, ref)


@router.get("/Users")
async def list_users(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_users(request, session, actor, query_from_params(request))


@router.post("/Users/.search")
async def search_users(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_users(request, session, actor, await query_from_body(request))


async def _list_users(request: Request, session: Session, actor: Actor, query: Query) -> Response:
    start, count = window(query)
    where = parse_filter(query.filter, ("userName", "externalId"))
    total, items = await users_page(
        session, actor, where, (start - 1, count), base_url(request), query.shown
    )
    return list_answer(items, total, start)


@router.post("/Users")
async def create_user(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    wanted = User[Any].model_validate(
        await read_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    user = await resources.create_user(session, actor, wanted)
    return created(await user_view(session, actor, user, base_url(request)))


@router.get("/Users/{user_id}")
async def get_user(
    user_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    user = await find_user(session, actor, user_id)
    return answer(
        resources.dump(
            await user_view(session, actor, user, base_url(request)), shown=shown_of(request)
        )
    )


@router.put("/Users/{user_id}")
async def replace_user(
    user_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    user = await find_user(session, actor, user_id)
    base = base_url(request)
    before = await user_view(session, actor, user, base)
    wanted = User[Any].model_validate(
        await read_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )
    user = await resources.apply_user(session, actor, user, before, wanted)
    return answer(
        resources.dump(
            await user_view(session, actor, user, base), Context.RESOURCE_REPLACEMENT_RESPONSE
        )
    )


@router.patch("/Users/{user_id}")
async def patch_user(
    user_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    user = await find_user(session, actor, user_id)
    base = base_url(request)
    before = await user_view(session, actor, user, base)
    wanted = await patched(request, PatchOp[User[Any]], before)
    if wanted is not None:
        user = await resources.apply_user(session, actor, user, before, wanted)
    return answer(
        resources.dump(await user_view(session, actor, user, base), Context.RESOURCE_PATCH_RESPONSE)
    )


@router.delete("/Users/{user_id}", status_code=204)
async def delete_user(user_id: str, session: ScimSession, actor: ScimActor) -> Response:
    """Deprovision: the user is removed (soft: wallet, usage and history stay), their sessions
    end and their keys stop at every gateway; the SCIM service answers 404 for them after."""
    user = await find_user(session, actor, user_id)
    await users_service.remove_user(
        session, actor, user=user.id, reason=resources.DEPROVISION_REASON
    )
    return Response(status_code=204)


@router.post("/.search")
async def search_all(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    """RFC 7644 §3.4.3 at the root: users, then groups, one window over both."""
    query = await query_from_body(request)
    start, count = window(query)
    user_filter = group_filter = query.filter
    where = parse_filter(query.filter, ("userName", "externalId", "displayName"))
    if where is not None:
        user_filter, group_filter = (
            (None, query.filter) if where[0] == "displayName" else (query.filter, None)
        )
    base = base_url(request)
    users_total = groups_total = 0
    items: list[dict[str, Any]] = []
    if where is None or user_filter is not None:
        users_total, items = await users_page(
            session, actor, where, (start - 1, count), base, query.shown
        )
    if where is None or group_filter is not None:
        offset = max(start - 1 - users_total, 0)
        groups_total, found = await groups_page(
            session,
            actor,
            where[1] if where else None,
            (offset, max(count - len(items), 0)),
            base,
            query.shown,
        )
        items += found
    return list_answer(items, users_total + groups_total, start)
