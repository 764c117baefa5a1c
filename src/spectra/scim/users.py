"""/scim/v2 discovery, Users and the root search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from scim2_models import Context, User
from starlette.responses import Response

from spectra.users import models
from spectra.users import service as users_service

from . import discovery, resources
from .errors import (
    ScimRoute,
)
from .http import (
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
    query_from_body,
    read_body,
    user_view,
    users_page,
    window,
)
from .kinds import ScimKind, item_routes, list_routes

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


USERS: ScimKind[models.User, resources.ScimUser] = ScimKind(
    path="Users",
    noun="user",
    model=User[Any],
    filters=("userName", "externalId"),
    find=find_user,
    view=user_view,
    page=users_page,
    apply=resources.apply_user,
)
list_routes(router, USERS)


@router.post("/Users")
async def create_user(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    wanted = User[Any].model_validate(
        await read_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    user = await resources.create_user(session, actor, wanted)
    return created(await user_view(session, actor, user, base_url(request)))


item_routes(router, USERS)


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
            where,
            (offset, max(count - len(items), 0)),
            base,
            query.shown,
        )
        items += found
    return list_answer(items, users_total + groups_total, start)
