"""Units of work: `session_scope()` commits at the end and rolls back on error.

Services never commit. After-commit callbacks (cache refresh, notifications) are queued with
`on_commit()` and dropped on rollback. `Session` is for writers; `ReadSession` for query-only
code (on SQLite it comes from an engine that does not take the write lock). A reader's signature
says `AnySession` (it may run inside a writer's unit of work too); a writer's says `Session`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NewType

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from spectra.db.engine import create_engine
from spectra.errors import UnavailableError

log = logging.getLogger(__name__)

Session = NewType("Session", AsyncSession)
ReadSession = NewType("ReadSession", AsyncSession)
AnySession = ReadSession | Session
"""What query-only code takes: either session. Writers take `Session`, so a signature shows
whether a function writes (mypy --strict refuses a `ReadSession` passed to a writer)."""

AfterCommit = Callable[[], Awaitable[None] | None]


class DatabaseUnavailableError(UnavailableError):
    code = "database_unavailable"


@dataclass
class Database:
    """The engines and session factories of one process."""

    engine: AsyncEngine
    read_engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


_database: Database | None = None


def open_database(url: str, *, echo: bool = False) -> Database:
    """Create engines for `url` and make them this process's database."""
    global _database
    engine = create_engine(url, echo=echo)
    read_engine = (
        create_engine(url, echo=echo, immediate=False)
        if engine.dialect.name == "sqlite"
        else engine
    )
    db = Database(
        engine=engine,
        read_engine=read_engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False, autoflush=True),
        read_sessionmaker=async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False),
        url=url,
    )
    _database = db
    return db


def set_database(db: Database | None) -> None:
    global _database
    _database = db


def get_database() -> Database:
    if _database is None:
        raise RuntimeError("No database is open in this process; call open_database() first.")
    return _database


def on_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` after the unit of work commits; dropped if it rolls back."""
    session.info.setdefault("after_commit", []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            result = callback()
            if result is not None:
                await result
        except Exception:
            log.exception("after-commit callback failed")


@asynccontextmanager
async def session_scope(db: Database | None = None, **info: Any) -> AsyncIterator[Session]:
    """One unit of work: commit at the end, roll back on error, then run after-commit hooks."""
    database = db or get_database()
    async with database.sessionmaker() as session:
        session.info.update(info)
        try:
            yield Session(session)
            await session.commit()
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise
        await run_after_commit(session)


@asynccontextmanager
async def read_scope(db: Database | None = None) -> AsyncIterator[ReadSession]:
    """A query-only unit of work."""
    database = db or get_database()
    # Closing (not rolling back) ends the transaction without expiring loaded objects,
    # so what a read returns stays usable after the scope.
    async with database.read_sessionmaker() as session:
        yield ReadSession(session)


def translate_db_error(exc: BaseException) -> DatabaseUnavailableError | None:
    """A connection-level failure as a clear, expected error (None when it is something else)."""
    if isinstance(exc, OperationalError | DBAPIError) and getattr(
        exc, "connection_invalidated", False
    ):
        return DatabaseUnavailableError("The database connection was lost; try again in a moment.")
    if isinstance(exc, OSError | ConnectionError):
        return DatabaseUnavailableError(f"The database cannot be reached: {exc}.")
    return None
