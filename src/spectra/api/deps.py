"""FastAPI dependencies as Annotated aliases: sessions (one unit of work per request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from spectra.db.session import ReadSession, Session, read_scope, session_scope
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


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(_session)]
ReadSessionDep = Annotated[ReadSession, Depends(_read_session)]
