"""Route factories: one body for routes that differ only in their path, names and service call.

No `from __future__ import annotations` here: FastAPI reads these closures' annotations, which
name values known only when the factory runs (a path parameter's name, the answer's model), so
they must be objects rather than strings evaluated in this module's globals.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from spectra.api.deps import ActorDep, RuntimeDep, SessionDep
from spectra.api.progress import PROGRESS_RESPONSES, Tick, answer
from spectra.audit.actor import Actor
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


PreviewWork = Callable[[Any, Actor, str, Any, Tick | None], Awaitable[Any]]


def previewed_route(
    router: APIRouter, path: str, body: type[BaseModel], run: PreviewWork, *, name: str
) -> None:
    """`POST path` (path parameter `name`) for a bulk change with a `preview` flag in its body:
    `run(session, actor, name, body, tick)` does the work; a real change (not a preview) streams
    its progress when asked (`api.progress`). The route answers what `run` returns (its return
    annotation) and is described by `run`'s docstring."""
    answer_model = get_type_hints(run)["return"]

    async def route(
        name: str,
        body: body,  # type: ignore[valid-type]
        request: Request,
        session: SessionDep,
        actor: ActorDep,
        runtime: RuntimeDep,
    ) -> Any:
        return await answer(
            request,
            runtime,
            session,
            lambda s, tick: run(s, actor, name, body, tick),
            streamable=not body.preview,  # type: ignore[attr-defined]
        )

    route.__doc__ = run.__doc__
    router.post(path, response_model=answer_model, responses=PROGRESS_RESPONSES, name=name)(route)
