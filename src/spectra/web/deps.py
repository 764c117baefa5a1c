"""The per-request runtime, units of work and client address, as FastAPI dependencies the API
and the console both declare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from spectra.db.hub import Hub
from spectra.db.session import ReadSession, Session, read_scope, session_scope


def get_runtime(request: Request) -> Hub:
    runtime: Hub = request.app.state.runtime
    return runtime


async def _session(request: Request) -> AsyncIterator[Session]:
    async with session_scope(get_runtime(request).db) as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[ReadSession]:
    async with read_scope(get_runtime(request).db) as session:
        yield session


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


RuntimeDep = Annotated[Hub, Depends(get_runtime)]
# "function" scope: the transaction commits before the answer is sent, so a client that acts on
# the answer (a redirect, a follow-up GET) sees the write, and a failed commit is an error answer.
SessionDep = Annotated[Session, Depends(_session, scope="function")]
ReadSessionDep = Annotated[ReadSession, Depends(_read_session)]
