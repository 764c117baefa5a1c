"""FastAPI dependencies as Annotated aliases: sessions (one unit of work per request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from spectra.audit.actor import Actor
from spectra.db.session import ReadSession, Session, read_scope, session_scope
from spectra.errors import UnauthenticatedError
from spectra.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _session(request: Request) -> AsyncIterator[Session]:
    async with session_scope(get_runtime(request).db) as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[ReadSession]:
    async with read_scope(get_runtime(request).db) as session:
        yield session


async def get_actor(request: Request) -> Actor:
    """The caller of this request: an admin API token, a member key or a console session.

    Resolved by the authentication layer (users/keys); refuses when there is none.
    """
    actor: Actor | None = request.scope.get("state", {}).get("actor")
    if actor is None:
        raise UnauthenticatedError(
            "Sign in, or send an API token as 'Authorization: Bearer <token>'."
        )
    return actor


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(_session)]
ReadSessionDep = Annotated[ReadSession, Depends(_read_session)]
ActorDep = Annotated[Actor, Depends(get_actor)]
