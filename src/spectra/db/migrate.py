"""Alembic, driven from code: migrations ship inside the package (`spectra:migrations`)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from spectra.db.engine import create_engine, normalize_url
from spectra.errors import ConfigError, UnavailableError


class SchemaTooNewError(ConfigError):
    code = "schema_too_new"


class DatabaseUnreachableError(UnavailableError):
    code = "database_unreachable"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "spectra:migrations")
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    cfg.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(
        alembic_config("sqlite+aiosqlite:///x.db")
    ).get_current_head()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url, immediate=False)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    except (OSError, OperationalError, DBAPIError) as exc:
        raise DatabaseUnreachableError(f"The database cannot be reached: {_reason(exc)}.") from None
    finally:
        await engine.dispose()


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


async def check_schema(url: str) -> str:
    """`ok`, `behind` or `empty`; raises SchemaTooNewError for a revision this Spectra does not know."""
    revision = await current_revision(url)
    head = head_revision()
    if revision is None:
        return "empty"
    if revision == head:
        return "ok"
    script = ScriptDirectory.from_config(alembic_config(url))
    try:
        script.get_revision(revision)
    except Exception:
        raise SchemaTooNewError(
            f"This database is at schema {revision}, which this Spectra does not know: it was written "
            "by a newer version. Upgrade Spectra (or restore a backup) before starting."
        ) from None
    return "behind"


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (creates the SQLite data directory's file if needed)."""
    await check_schema(url)
    cfg = alembic_config(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, cfg, revision)
    except (OSError, OperationalError) as exc:
        raise DatabaseUnreachableError(
            f"The database cannot be migrated: {_reason(exc)}."
        ) from None
    finally:
        await engine.dispose()


def upgrade_sync(url: str, revision: str = "head") -> None:
    asyncio.run(upgrade(url, revision))


def run_alembic(url: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an alembic command function (e.g. command.check) with a live connection."""
    cfg = alembic_config(url)

    async def _go() -> Any:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:

                def _run(sync_conn: Connection) -> Any:
                    cfg.attributes["connection"] = sync_conn
                    return fn(cfg, *args, **kwargs)

                return await conn.run_sync(_run)
        finally:
            await engine.dispose()

    return asyncio.run(_go())
