"""What every SCIM route shares: the token's actor, the unit of work, request parsing
(filters, pagination, attributes) and answers in the SCIM media type."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, TypeVar

from fastapi import Depends, Request
from scim2_models import Context, PatchOp, ResponseParameters, SearchRequest

from spectra.audit.actor import Actor
from spectra.db.session import Session, session_scope
from spectra.errors import UnauthenticatedError
from spectra.keys import scim as keys_scim
from spectra.users import models
from spectra.users import service as users_service
from spectra.users.errors import GroupNotFoundError, UserNotFoundError
from spectra.web.deps import SessionDep, client_ip, get_runtime

from . import discovery, resources
from .errors import (
    ScimInvalidError,
    ScimNotFoundError,
    ScimResponse,
)

PREFIX = "/scim/v2"
_FILTER = re.compile(r'^\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_TRUTH = {"true": True, "false": False}


async def _actor(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise UnauthenticatedError("Send the SCIM token as 'Authorization: Bearer <token>'.")
    async with session_scope(get_runtime(request).db) as session:
        actor = await keys_scim.authenticate_scim_token(session, secret.strip())
    return actor.with_request(request.scope.get("state", {}).get("request_id"), client_ip(request))


ScimActor = Annotated[Actor, Depends(_actor)]
ScimSession = SessionDep


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def answer(body: dict[str, Any], status: int = 200, location: str | None = None) -> ScimResponse:
    return ScimResponse(
        body, status_code=status, headers={"location": location} if location else None
    )


def list_answer(items: list[dict[str, Any]], total: int, start: int) -> ScimResponse:
    return answer(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@dataclass(frozen=True)
class Query:
    """What a list asks (RFC 7644 §3.4.2, from the query string or a SearchRequest body)."""

    filter: str | None
    start: int
    count: int
    shown: resources.Shown


def query_from_params(request: Request) -> Query:
    params = request.query_params
    try:
        start = int(params.get("startIndex", "1"))
        count = int(params.get("count", str(discovery.MAX_RESULTS)))
    except ValueError:
        raise ScimInvalidError("startIndex and count are integers.") from None
    return Query(params.get("filter"), start, count, shown_of(request))


async def query_from_body(request: Request) -> Query:
    search = SearchRequest[Any].model_validate(
        await read_body(request), scim_ctx=Context.SEARCH_REQUEST
    )
    shown = ResponseParameters[Any](
        attributes=search.attributes, excluded_attributes=search.excluded_attributes
    )
    return Query(
        str(search.filter) if search.filter is not None else None,
        search.start_index or 1,
        discovery.MAX_RESULTS if search.count is None else search.count,
        shown,
    )


def shown_of(request: Request) -> resources.Shown:
    return ResponseParameters[Any].model_validate(
        {
            "attributes": request.query_params.get("attributes"),
            "excludedAttributes": request.query_params.get("excludedAttributes"),
        }
    )


def window(query: Query) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: startIndex below 1 is 1; count below 0 is 0; above the maximum, the maximum."""
    return max(query.start, 1), min(max(query.count, 0), discovery.MAX_RESULTS)


def parse_filter(raw: str | None, allowed: tuple[str, ...]) -> tuple[str, str] | None:
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


async def read_body(request: Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise ScimInvalidError("The body is a JSON object.", scim_type="invalidSyntax")
    return body


def _uuid(kind: str, ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        not_found(kind, ref)


async def find_user(session: Session, actor: Actor, user_id: str) -> models.User:
    """A user that is not removed (a removed user is deleted, for SCIM), by id only."""
    try:
        user = await users_service.get_user(session, actor, user=_uuid("User", user_id))
    except UserNotFoundError:
        not_found("User", user_id)
    if user.status == "removed":
        not_found("User", user_id)
    return user


async def find_group(session: Session, actor: Actor, group_id: str) -> models.Group:
    try:
        return await users_service.get_group(session, actor, group=_uuid("Group", group_id))
    except GroupNotFoundError:
        not_found("Group", group_id)


def not_found(kind: str, ref: str) -> NoReturn:
    raise ScimNotFoundError(f"No {kind} has the id {ref[:100]!r}.")


def normalise_patch(body: dict[str, Any]) -> dict[str, Any]:
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


_Resource = TypeVar("_Resource", resources.ScimUser, resources.ScimGroup)


async def patched(request: Request, op: type[PatchOp[Any]], before: _Resource) -> _Resource | None:
    """The resource as the request's PATCH leaves it, or None when the patch changes nothing."""
    patch = op.model_validate(
        normalise_patch(await read_body(request)), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
    wanted = before.model_copy(deep=True)
    return wanted if patch.patch(wanted) else None


def created(shown: resources.ScimUser | resources.ScimGroup) -> ScimResponse:
    """201 with the new resource and where it lives (`location`)."""
    return answer(
        resources.dump(shown, Context.RESOURCE_CREATION_RESPONSE),
        201,
        shown.meta.location if shown.meta else None,
    )


async def group_view(
    session: Session, actor: Actor, group: models.Group, base: str
) -> resources.ScimGroup:
    members = await users_service.group_members(session, actor, group_ids=[group.id])
    return resources.group_resource(group, members[group.id], base)


async def user_view(
    session: Session, actor: Actor, user: models.User, base: str
) -> resources.ScimUser:
    memberships = await users_service.memberships_of(session, actor, users=[user])
    return resources.user_resource(user, base, memberships[user.id])


async def users_page(
    session: Session,
    actor: Actor,
    where: tuple[str, str] | None,
    window: tuple[int, int],
    base: str,
    shown: resources.Shown,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page of users as JSON) for a `userName`/`externalId` filter or none;
    `window` = (offset, limit)."""
    total, users = await users_service.list_directory_users(
        session,
        actor,
        user_name=where[1] if where and where[0] == "userName" else None,
        external_id=where[1] if where and where[0] == "externalId" else None,
        offset=window[0],
        limit=window[1],
    )
    memberships = await users_service.memberships_of(session, actor, users=users)
    return total, [
        resources.dump(resources.user_resource(u, base, memberships[u.id]), shown=shown)
        for u in users
    ]


async def groups_page(
    session: Session,
    actor: Actor,
    where: tuple[str, str] | None,
    window: tuple[int, int],
    base: str,
    shown: resources.Shown,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page of groups as JSON, members included) for a `displayName` filter or
    none; `window` = (offset, limit)."""
    display_name = where[1] if where else None
    total, groups = await users_service.list_directory_groups(
        session, actor, display_name=display_name, offset=window[0], limit=window[1]
    )
    members = await users_service.group_members(session, actor, group_ids=[g.id for g in groups])
    return total, [
        resources.dump(resources.group_resource(g, members[g.id], base), shown=shown)
        for g in groups
    ]
