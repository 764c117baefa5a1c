"""Route factories: one body for routes that differ only in their path, names and service call.

No `from __future__ import annotations` here: FastAPI reads these closures' annotations, which
name values known only when the factory runs (a path parameter's name, the answer's model), so
they must be objects rather than strings evaluated in this module's globals.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from spectra.api.deps import ActorDep, SessionDep
from spectra.ledger.schemas import Decision

Decide = Callable[..., Awaitable[Any]]


def decision_routes(
    router: APIRouter,
    path: str,
    read: type[BaseModel],
    *,
    name: str,
    approve: Decide,
    reject: Decide,
) -> None:
    """`POST {path}/approve` and `POST {path}/reject`, where `path` ends in `{<id>}`: each calls
    `approve`/`reject(session, actor, <id>=..., note=...)` (the optional body's note, else "")
    and answers the decided row as `read`. The routes are named `approve_{name}` and
    `reject_{name}` (their OpenAPI operation ids and summaries)."""
    id_name = path.rsplit("{", 1)[1].rstrip("}")
    for verb, decide in (("approve", approve), ("reject", reject)):
        router.post(f"{path}/{verb}", response_model=read, name=f"{verb}_{name}")(
            _decision_route(id_name, read, decide)
        )


def _decision_route(id_name: str, read: type[BaseModel], decide: Decide) -> Decide:
    async def route(
        target: Annotated[uuid.UUID, Path(alias=id_name)],
        session: SessionDep,
        actor: ActorDep,
        body: Decision | None = None,
    ) -> Any:
        row = await decide(session, actor, **{id_name: target}, note=body.note if body else "")
        return read.model_validate(row)

    return route
