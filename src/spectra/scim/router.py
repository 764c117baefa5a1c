"""/scim/v2: Users and Groups for identity providers (Okta, Entra ID, ...), authenticated by a
SCIM token. Parse, call the users service (audited as the token's `scim:` actor), shape."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from scim2_models import Context, Group, PatchOp, ResponseParameters, SearchRequest, User
from starlette.responses import Response

from spectra.audit.actor import Actor
from spectra.db.hub import Hub
from spectra.db.session import Session, session_scope
from spectra.errors import UnauthenticatedError
from spectra.keys import scim as keys_scim
from spectra.users import models
from spectra.users import service as users_service
from spectra.users.errors import GroupNotFoundError, UserNotFoundError

from . import discovery, resources
from .errors import (
    ScimInvalidError,
    ScimNotFoundError,
    ScimNotImplementedError,
    ScimResponse,
    ScimRoute,
    scim_error,
)

PREFIX = "/scim/v2"
_FILTER = re.compile(r'^\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_TRUTH = {"true": True, "false": False}

router = APIRouter(prefix=PREFIX, route_class=ScimRoute, tags=["scim"])


def _runtime(request: Request) -> Hub:
    hub: Hub = request.app.state.runtime
    return hub


async def _actor(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise UnauthenticatedError("Send the SCIM token as 'Authorization: Bearer <token>'.")
    async with session_scope(_runtime(request).db) as session:
        actor = await keys_scim.authenticate_scim_token(session, secret.strip())
    client = request.client.host if request.client else None
    return actor.with_request(request.scope.get("state", {}).get("request_id"), client)


async def _session(request: Request) -> AsyncIterator[Session]:
    async with session_scope(_runtime(request).db) as session:
        yield session


ScimActor = Annotated[Actor, Depends(_actor)]
ScimSession = Annotated[Session, Depends(_session, scope="function")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _answer(body: dict[str, Any], status: int = 200, location: str | None = None) -> ScimResponse:
    return ScimResponse(
        body, status_code=status, headers={"location": location} if location else None
    )


def _list(items: list[dict[str, Any]], total: int, start: int) -> ScimResponse:
    return _answer(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@dataclass(frozen=True)
class _Query:
    """What a list asks (RFC 7644 §3.4.2, from the query string or a SearchRequest body)."""

    filter: str | None
    start: int
    count: int
    shown: resources.Shown


def _query_from_params(request: Request) -> _Query:
    params = request.query_params
    try:
        start = int(params.get("startIndex", "1"))
        count = int(params.get("count", str(discovery.MAX_RESULTS)))
    except ValueError:
        raise ScimInvalidError("startIndex and count are integers.") from None
    return _Query(params.get("filter"), start, count, _shown(request))


async def _query_from_body(request: Request) -> _Query:
    search = SearchRequest[Any].model_validate(
        await _body(request), scim_ctx=Context.SEARCH_REQUEST
    )
    shown = ResponseParameters[Any](
        attributes=search.attributes, excluded_attributes=search.excluded_attributes
    )
    return _Query(
        str(search.filter) if search.filter is not None else None,
        search.start_index or 1,
        discovery.MAX_RESULTS if search.count is None else search.count,
        shown,
    )


def _shown(request: Request) -> resources.Shown:
    return ResponseParameters[Any].model_validate(
        {
            "attributes": request.query_params.get("attributes"),
            "excludedAttributes": request.query_params.get("excludedAttributes"),
        }
    )


def _window(query: _Query) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: startIndex below 1 is 1; count below 0 is 0; above the maximum, the maximum."""
    return max(query.start, 1), min(max(query.count, 0), discovery.MAX_RESULTS)


def _filter(raw: str | None, allowed: tuple[str, ...]) -> tuple[str, str] | None:
    if raw is None or not raw.strip():
        return None
    match = _FILTER.match(raw)
    names = {a.lower(): a for a in allowed}
    if match is None or match.group(1).lower() not in names:
        raise ScimInvalidError(
            f"Spectra filters on {', '.join(allowed)} with 'eq' only.", scim_type="invalidFilter"
        )
    value = re.sub(r"\\(.)", r"\1", match.group(2))
    return names[match.group(1).lower()], value


async def _body(request: Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise ScimInvalidError("The body is a JSON object.", scim_type="invalidSyntax")
    return body


def _uuid(kind: str, ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        _not_found(kind, ref)


async def _user(session: Session, actor: Actor, user_id: str) -> models.User:
    """A user that is not removed (a removed user is deleted, for SCIM), by id only."""
    try:
        user = await users_service.get_user(session, actor, user=_uuid("User", user_id))
    except UserNotFoundError:
        _not_found("User", user_id)
    if user.status == "removed":
        _not_found("User", user_id)
    return user


async def _group(session: Session, actor: Actor, group_id: str) -> models.Group:
    try:
        return await users_service.get_group(session, actor, group=_uuid("Group", group_id))
    except GroupNotFoundError:
        _not_found("Group", group_id)


def _not_found(kind: str, ref: str) -> NoReturn:
    raise ScimNotFoundError(f"No {kind} has the id {ref[:100]!r}.")


def _normalise_patch(body: dict[str, Any]) -> dict[str, Any]:
    """Accept the patch styles of Entra ID (capitalised ops, "True"/"False" strings) and Okta
    (path-less value objects) as the standard's."""
    for op in body.get("Operations") or []:
        if not isinstance(op, dict):
            continue
        if isinstance(op.get("op"), str):
            op["op"] = op["op"].lower()
        value = op.get("value")
        if str(op.get("path", "")).lower() == "active" and isinstance(value, str):
            op["value"] = _TRUTH.get(value.lower(), value)
        elif isinstance(value, dict) and isinstance(value.get("active"), str):
            value["active"] = _TRUTH.get(value["active"].lower(), value["active"])
    return body


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, actor: ScimActor) -> Response:
    return _answer(discovery.service_provider_config(_base(request)))


@router.get("/ResourceTypes")
async def resource_types(request: Request, actor: ScimActor) -> Response:
    found = discovery.resource_types(_base(request))
    return _list(found, len(found), 1)


@router.get("/ResourceTypes/{name}")
async def resource_type(name: str, request: Request, actor: ScimActor) -> Response:
    for found in discovery.resource_types(_base(request)):
        if found["id"] == name:
            return _answer(found)
    _not_found("ResourceType", name)


@router.get("/Schemas")
async def schemas(request: Request, actor: ScimActor) -> Response:
    found = discovery.schemas(_base(request))
    return _list(found, len(found), 1)


@router.get("/Schemas/{schema_id}")
async def schema(schema_id: str, request: Request, actor: ScimActor) -> Response:
    for found in discovery.schemas(_base(request)):
        if found["id"] == schema_id:
            return _answer(found)
    _not_found("Schema", schema_id)


@router.get("/Users")
async def list_users(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_users(request, session, actor, _query_from_params(request))


@router.post("/Users/.search")
async def search_users(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_users(request, session, actor, await _query_from_body(request))


async def _list_users(request: Request, session: Session, actor: Actor, query: _Query) -> Response:
    start, count = _window(query)
    where = _filter(query.filter, ("userName", "externalId"))
    total, users = await users_service.list_directory_users(
        session,
        actor,
        user_name=where[1] if where and where[0] == "userName" else None,
        external_id=where[1] if where and where[0] == "externalId" else None,
        offset=start - 1,
        limit=count,
    )
    base = _base(request)
    items = [resources.dump(resources.user_resource(u, base), shown=query.shown) for u in users]
    return _list(items, total, start)


@router.post("/Users")
async def create_user(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    wanted = User[Any].model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    user = await resources.create_user(session, actor, wanted)
    shown = resources.user_resource(user, _base(request))
    return _answer(
        resources.dump(shown, Context.RESOURCE_CREATION_RESPONSE),
        201,
        shown.meta.location if shown.meta else None,
    )


@router.get("/Users/{user_id}")
async def get_user(
    user_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    user = await _user(session, actor, user_id)
    return _answer(
        resources.dump(resources.user_resource(user, _base(request)), shown=_shown(request))
    )


@router.put("/Users/{user_id}")
async def replace_user(
    user_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    user = await _user(session, actor, user_id)
    base = _base(request)
    before = resources.user_resource(user, base)
    wanted = User[Any].model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )
    user = await resources.apply_user(session, actor, user, before, wanted)
    return _answer(
        resources.dump(resources.user_resource(user, base), Context.RESOURCE_REPLACEMENT_RESPONSE)
    )


@router.patch("/Users/{user_id}")
async def patch_user(
    user_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    user = await _user(session, actor, user_id)
    base = _base(request)
    before = resources.user_resource(user, base)
    patch = PatchOp[User[Any]].model_validate(
        _normalise_patch(await _body(request)), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
    wanted = before.model_copy(deep=True)
    if patch.patch(wanted):
        user = await resources.apply_user(session, actor, user, before, wanted)
    return _answer(
        resources.dump(resources.user_resource(user, base), Context.RESOURCE_PATCH_RESPONSE)
    )


@router.delete("/Users/{user_id}", status_code=204)
async def delete_user(user_id: str, session: ScimSession, actor: ScimActor) -> Response:
    """Deprovision: the user is removed (soft: wallet, usage and history stay), their sessions
    end and their keys stop at every gateway; the SCIM service answers 404 for them after."""
    user = await _user(session, actor, user_id)
    await users_service.remove_user(
        session, actor, user=user.id, reason=resources.DEPROVISION_REASON
    )
    return Response(status_code=204)


async def _group_view(
    session: Session, actor: Actor, group: models.Group, base: str
) -> resources.ScimGroup:
    members = await users_service.group_members(session, actor, group_ids=[group.id])
    return resources.group_resource(group, members[group.id], base)


@router.post("/.search")
async def search_all(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    """RFC 7644 §3.4.3 at the root: users, then groups, one window over both."""
    query = await _query_from_body(request)
    start, count = _window(query)
    user_filter = group_filter = query.filter
    where = _filter(query.filter, ("userName", "externalId", "displayName"))
    if where is not None:
        user_filter, group_filter = (
            (None, query.filter) if where[0] == "displayName" else (query.filter, None)
        )
    base = _base(request)
    users_total = groups_total = 0
    items: list[dict[str, Any]] = []
    if where is None or user_filter is not None:
        users_total, users = await users_service.list_directory_users(
            session,
            actor,
            user_name=where[1] if where and where[0] == "userName" else None,
            external_id=where[1] if where and where[0] == "externalId" else None,
            offset=start - 1,
            limit=count,
        )
        items = [resources.dump(resources.user_resource(u, base), shown=query.shown) for u in users]
    if where is None or group_filter is not None:
        offset = max(start - 1 - users_total, 0)
        groups_total, groups = await users_service.list_directory_groups(
            session,
            actor,
            display_name=where[1] if where else None,
            offset=offset,
            limit=max(count - len(items), 0),
        )
        members = await users_service.group_members(
            session, actor, group_ids=[g.id for g in groups]
        )
        items += [
            resources.dump(resources.group_resource(g, members[g.id], base), shown=query.shown)
            for g in groups
        ]
    return _list(items, users_total + groups_total, start)


@router.get("/Groups")
async def list_groups(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_groups(request, session, actor, _query_from_params(request))


@router.post("/Groups/.search")
async def search_groups(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    return await _list_groups(request, session, actor, await _query_from_body(request))


async def _list_groups(request: Request, session: Session, actor: Actor, query: _Query) -> Response:
    start, count = _window(query)
    where = _filter(query.filter, ("displayName",))
    total, groups = await users_service.list_directory_groups(
        session, actor, display_name=where[1] if where else None, offset=start - 1, limit=count
    )
    members = await users_service.group_members(session, actor, group_ids=[g.id for g in groups])
    base = _base(request)
    items = [
        resources.dump(resources.group_resource(g, members[g.id], base), shown=query.shown)
        for g in groups
    ]
    return _list(items, total, start)


@router.post("/Groups")
async def create_group(request: Request, session: ScimSession, actor: ScimActor) -> Response:
    wanted = Group.model_validate(await _body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    if not wanted.display_name:
        raise ScimInvalidError("A group needs a displayName.")
    group = await users_service.create_group(session, actor, name=wanted.display_name)
    await users_service.set_group_external_id(
        session, actor, group=group.id, external_id=wanted.external_id
    )
    await resources.apply_members(session, actor, group, [], wanted)
    shown = await _group_view(session, actor, group, _base(request))
    return _answer(
        resources.dump(shown, Context.RESOURCE_CREATION_RESPONSE),
        201,
        shown.meta.location if shown.meta else None,
    )


@router.get("/Groups/{group_id}")
async def get_group(
    group_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    group = await _group(session, actor, group_id)
    shown = await _group_view(session, actor, group, _base(request))
    return _answer(resources.dump(shown, shown=_shown(request)))


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
    group = await _group(session, actor, group_id)
    base = _base(request)
    before = await _group_view(session, actor, group, base)
    wanted = Group.model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )
    await _apply_group(session, actor, group, before, wanted)
    shown = await _group_view(session, actor, group, base)
    return _answer(resources.dump(shown, Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Groups/{group_id}")
async def patch_group(
    group_id: str, request: Request, session: ScimSession, actor: ScimActor
) -> Response:
    group = await _group(session, actor, group_id)
    base = _base(request)
    before = await _group_view(session, actor, group, base)
    patch = PatchOp[Group].model_validate(
        _normalise_patch(await _body(request)), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
    wanted = before.model_copy(deep=True)
    if patch.patch(wanted):
        await _apply_group(session, actor, group, before, wanted)
    shown = await _group_view(session, actor, group, base)
    return _answer(resources.dump(shown, Context.RESOURCE_PATCH_RESPONSE))


@router.delete("/Groups/{group_id}")
async def delete_group(group_id: str, session: ScimSession, actor: ScimActor) -> Response:
    """Spectra keeps a group (its wallet, budgets and history); an identity provider empties it
    with a PATCH or PUT of its members instead."""
    await _group(session, actor, group_id)
    raise ScimNotImplementedError(
        "Spectra does not delete groups (their wallets, budgets and history stay); "
        "empty it by removing its members instead."
    )


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown(path: str, request: Request) -> Response:
    """RFC 7644 §3.12: an unknown endpoint is a 404, a known one asked with another method a
    405, both in the SCIM error shape."""
    allowed = sorted(
        method
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint is not unknown
        for method in route.methods or ()
        if route.path_regex.match(request.url.path)
    )
    if allowed:
        answer = scim_error(
            405, f"{request.method} is not supported here; use {', '.join(allowed)}."
        )
        answer.headers["allow"] = ", ".join(allowed)
        return answer
    raise ScimNotFoundError(f"/scim/v2/{path[:100]} is not a SCIM endpoint of Spectra.")


def install(app: FastAPI) -> None:
    app.include_router(router)
