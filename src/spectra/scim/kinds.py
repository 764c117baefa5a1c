"""One SCIM resource base: list, `.search`, read, replace and patch of Users and Groups are the
same steps over a different kind (how it is found, shown, paged and changed); each kind's
create and delete keep their own rules in its module.

No `from __future__ import annotations` here: FastAPI reads these closures' annotations, and
the path parameter's name (`user_id`, `group_id`) is known only when the routes are built.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Path, Request
from scim2_models import Context, PatchOp
from starlette.responses import Response

from spectra.audit.actor import Actor
from spectra.db.session import Session

from . import resources
from .http import (
    Query,
    ScimActor,
    ScimSession,
    answer,
    base_url,
    list_answer,
    parse_filter,
    patched,
    query_from_body,
    query_from_params,
    read_body,
    shown_of,
    window,
)

Row = TypeVar("Row")
Shown = TypeVar("Shown", resources.ScimUser, resources.ScimGroup)
Page = Callable[
    [Session, Actor, tuple[str, str] | None, tuple[int, int], str, resources.Shown],
    Awaitable[tuple[int, list[dict[str, Any]]]],
]


@dataclass(frozen=True, slots=True)
class ScimKind(Generic[Row, Shown]):
    """What differs between Users and Groups: `path` ("Users"), `noun` ("user": route names and
    the `{noun}_id` path parameter), the SCIM `model`, the attributes a filter may name, and how
    a row is found by its id, shown, paged (filter, (offset, limit)) and changed."""

    path: str
    noun: str
    model: Any
    filters: tuple[str, ...]
    find: Callable[[Session, Actor, str], Awaitable[Row]]
    view: Callable[[Session, Actor, Row, str], Awaitable[Shown]]
    page: Page
    apply: Callable[[Session, Actor, Row, Shown, Shown], Awaitable[Row]]


def list_routes(router: APIRouter, kind: ScimKind[Any, Any]) -> None:
    """`GET /{path}` (query in the URL) and `POST /{path}/.search` (query in the body)."""

    async def listed(request: Request, session: Session, actor: Actor, query: Query) -> Response:
        start, count = window(query)
        where = parse_filter(query.filter, kind.filters)
        total, items = await kind.page(
            session, actor, where, (start - 1, count), base_url(request), query.shown
        )
        return list_answer(items, total, start)

    async def list_all(request: Request, session: ScimSession, actor: ScimActor) -> Response:
        return await listed(request, session, actor, query_from_params(request))

    async def search(request: Request, session: ScimSession, actor: ScimActor) -> Response:
        return await listed(request, session, actor, await query_from_body(request))

    router.get(f"/{kind.path}", name=f"list_{kind.path.lower()}")(list_all)
    router.post(f"/{kind.path}/.search", name=f"search_{kind.path.lower()}")(search)


def item_routes(router: APIRouter, kind: ScimKind[Any, Any]) -> None:
    """`GET`, `PUT` and `PATCH /{path}/{<noun>_id}`."""
    Ref = Annotated[str, Path(alias=f"{kind.noun}_id")]  # noqa: N806 (a type alias)

    async def changed(
        request: Request, session: Session, actor: Actor, ref: str, ctx: Context
    ) -> Response:
        row = await kind.find(session, actor, ref)
        base = base_url(request)
        before = await kind.view(session, actor, row, base)
        if ctx is Context.RESOURCE_PATCH_RESPONSE:
            wanted = await patched(request, PatchOp[kind.model], before)  # type: ignore[name-defined]
        else:
            wanted = kind.model.model_validate(
                await read_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
            )
        if wanted is not None:
            row = await kind.apply(session, actor, row, before, wanted)
        return answer(resources.dump(await kind.view(session, actor, row, base), ctx))

    async def get(ref: Ref, request: Request, session: ScimSession, actor: ScimActor) -> Response:
        row = await kind.find(session, actor, ref)
        shown = await kind.view(session, actor, row, base_url(request))
        return answer(resources.dump(shown, shown=shown_of(request)))

    async def replace(
        ref: Ref, request: Request, session: ScimSession, actor: ScimActor
    ) -> Response:
        return await changed(request, session, actor, ref, Context.RESOURCE_REPLACEMENT_RESPONSE)

    async def patch(ref: Ref, request: Request, session: ScimSession, actor: ScimActor) -> Response:
        return await changed(request, session, actor, ref, Context.RESOURCE_PATCH_RESPONSE)

    item = f"/{kind.path}/{{{kind.noun}_id}}"
    router.get(item, name=f"get_{kind.noun}")(get)
    router.put(item, name=f"replace_{kind.noun}")(replace)
    router.patch(item, name=f"patch_{kind.noun}")(patch)
