"""Engines: SQLite with WAL, foreign keys and BEGIN IMMEDIATE for writers; PostgreSQL with a pool."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from spectra.errors import ConfigError
from spectra.kit.files import private_sqlite_files

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def normalize_url(url: str) -> str:
    """Accept the common spellings and return an async driver URL, or raise ConfigError."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"SPECTRA_DATABASE_URL is not a database URL Spectra can read: {_redact(url)!r}; "
            "use sqlite+aiosqlite:///path/spectra.db or postgresql+asyncpg://user@host/db."
        ) from None
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ConfigError(
            f"SPECTRA_DATABASE_URL uses {parsed.drivername!r}; Spectra supports SQLite "
            "(sqlite+aiosqlite://) and PostgreSQL (postgresql+asyncpg://)."
        )
    return parsed.render_as_string(hide_password=False)


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, immediate: bool = True
) -> AsyncEngine:
    """Create the async engine for `url`.

    SQLite: WAL journal, foreign keys on, a busy timeout, and `BEGIN IMMEDIATE` so a
    read-then-write transaction never fails upgrading its lock (set `immediate=False` for a
    read-only engine).
    """
    url = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            raise ConfigError("An in-memory SQLite database cannot be shared; give a file path.")
        kwargs["connect_args"] = {"timeout": 30}
        kwargs["poolclass"] = NullPool if not immediate else None
        if kwargs["poolclass"] is None:
            del kwargs["poolclass"]
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
    try:
        engine = create_async_engine(url, **kwargs)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise ConfigError(f"SPECTRA_DATABASE_URL cannot be used: {exc}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, immediate=immediate, path=make_url(url).database or "")
    return engine


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool, path: str) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Before the WAL pragma: SQLite gives the WAL and SHM files the database file's mode.
        private_sqlite_files(path)
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
