"""Test infrastructure: one database per xdist worker (SQLite, or PostgreSQL when
SPECTRA_TEST_DATABASE_URL is set), schema built by migrations once, then either

- `session`: one connection + outer transaction, rolled back after the test (service tests), or
- `runtime` / `client`: a real Runtime with real commits and the ASGI app over HTTP; every table
  is emptied after the test (API, gateway and concurrency tests).

Fakes: only the upstream network (tests/fakes) and the clock (`clock`).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from spectra import wiring
from spectra.audit.actor import Actor
from spectra.config import Settings
from spectra.db import migrate, serverkey
from spectra.db.base import Base
from spectra.db.engine import create_engine
from spectra.db.session import Session
from spectra.kit import clock as clock_module
from spectra.runtime import Runtime, build_runtime, close_runtime

# No timed assertions: Hypothesis' per-example deadline would fail tests on a busy CI machine.
hypothesis_settings.register_profile(
    "spectra", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("spectra")

TEST_SECRET = "a" * 64
PG_URL = os.environ.get("SPECTRA_TEST_DATABASE_URL")
KEEP_TABLES = {"alembic_version", "server_identity"}
CHECKOUT_TAG = hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:6]


def pytest_configure(config: pytest.Config) -> None:
    if (
        os.environ.get("CI") == "true"
        and os.environ.get("SPECTRA_REQUIRE_POSTGRES") == "1"
        and not PG_URL
    ):
        raise pytest.UsageError(
            "SPECTRA_REQUIRE_POSTGRES=1 but SPECTRA_TEST_DATABASE_URL is not set."
        )


def _uses_the_database(item: pytest.Item) -> bool:
    return (
        "database_url" in getattr(item, "fixturenames", ())
        or "database" in item.keywords
        or "postgres_only" in item.keywords
    )


# Tests whose first run installs pinned tools from npm (the real clients, oidc-provider): a fresh
# machine spends minutes in that install, which is set-up, not a hung test.
INSTALLS_TOOLS = ("tests/e2e/", "tests/cli/test_sso.py", "tests/browser/test_sso_journey.py")
INSTALL_TIMEOUT = 1200


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(INSTALLS_TOOLS) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(INSTALL_TIMEOUT))
    if PG_URL:
        # The PostgreSQL pass runs what touches the database. A test that never opens it (a
        # translator, a price table, a CLI on its own SQLite file) runs the same in both passes
        # and already ran in the SQLite one. SPECTRA_TEST_EVERYTHING=1 keeps them all.
        if os.environ.get("SPECTRA_TEST_EVERYTHING") == "1":
            return
        kept = [item for item in items if _uses_the_database(item)]
        dropped = [item for item in items if not _uses_the_database(item)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set SPECTRA_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def _make_pg_database(base_url: str, name: str) -> str:
    import asyncpg

    from spectra.db.engine import normalize_url

    url = normalize_url(base_url)
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        # A test stuck on a row lock, or a connection a test leaked mid-transaction, turns into an
        # error naming the lock instead of a run that stalls until CI's hard limit.
        await conn.execute(f"ALTER DATABASE \"{name}\" SET lock_timeout = '60s'")
        await conn.execute(
            f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '180s'"
        )
    finally:
        await conn.close()
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(f"spectra-{_worker()}")


@pytest_asyncio.fixture(scope="session")
async def database_url(data_dir: Path) -> str:
    """The worker's database, migrated to head once."""
    if PG_URL:
        # Several checkouts may test against one server at once: name databases per checkout too.
        url = await _make_pg_database(PG_URL, f"spectra_test_{CHECKOUT_TAG}_{_worker()}")
    else:
        url = f"sqlite+aiosqlite:///{data_dir}/test.db"
    await migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def dialect(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def settings(database_url: str, data_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        audit_anchor_file=tmp_path / "audit-anchors.jsonl",
        database_url=database_url,
        secret_key=TEST_SECRET,
        auto_migrate=False,
        change_poll_interval=0.05,
        commit_max_delay=0.005,
    )


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    wiring.register_handlers()
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        maker = async_sessionmaker(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        async with maker() as s:
            yield Session(s)
        if outer.is_active:
            await outer.rollback()


async def _empty_tables(engine: AsyncEngine) -> None:
    """Delete every row a test wrote, children first, and restart the sequences.

    DELETE rather than TRUNCATE on PostgreSQL too: TRUNCATE of some sixty tables swaps every
    table's files and cost 1-2 s per test (a third of the PostgreSQL pass), DELETE of a test's
    few rows takes milliseconds."""
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    async with engine.begin() as conn:
        for table in tables:
            await conn.execute(delete(table))
        if engine.dialect.name == "postgresql":
            owned = {t.name for t in tables}
            rows = await conn.execute(
                text(
                    "SELECT s.relname, t.relname FROM pg_class s"
                    " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
                    " JOIN pg_class t ON t.oid = d.refobjid"
                    " WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i')"
                )
            )
            for sequence, table_name in rows:
                if table_name in owned:
                    await conn.execute(text(f"SELECT setval('\"{sequence}\"', 1, false)"))


@pytest_asyncio.fixture
async def runtime(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Runtime]:
    """A started Runtime on the worker's database with real commits; tables emptied afterwards."""
    rt = await build_runtime(settings, migrate_schema=False)
    await rt.start(serve=False, run_jobs=False)
    try:
        yield rt
    finally:
        await close_runtime(rt)
        await _empty_tables(engine)


_APPS: dict[int, Any] = {}


@pytest_asyncio.fixture
async def app(runtime: Runtime) -> AsyncIterator[object]:
    """The ASGI app on this test's runtime. Routes are built once per worker (building ~900
    routes cost 0.2-0.4 s of CPU a test); each test gets it with its own runtime and none of
    an earlier test's overrides or trusted proxies."""
    from spectra.app import create_app

    built = _APPS.get(0)
    if built is None:
        built = _APPS[0] = create_app(runtime)
    built.state.runtime = runtime
    built.dependency_overrides.clear()
    built.trust_proxies(runtime.settings.trusted_proxy_list)
    try:
        yield built
    finally:
        built.dependency_overrides.clear()


@pytest_asyncio.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """Real HTTP through the ASGI app."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://spectra.test") as c:
        yield c


@pytest.fixture(autouse=True)
def server_keys_loaded() -> Iterator[None]:
    """The server's subkeys, as every process has them (audit events are keyed with one)."""
    previous = serverkey._keys
    if previous is None:
        serverkey.set_server_keys(serverkey.ServerKeys(secret=bytes.fromhex(TEST_SECRET)))
    yield
    serverkey.set_server_keys(previous)


@pytest.fixture
def clock() -> Iterator[datetime]:
    """Freeze the clock at 2026-11-15 10:00 UTC; `clock_module.advance()` moves it."""
    start = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)
    clock_module.freeze(start)
    yield start
    clock_module.unfreeze()


@pytest.fixture
def act_as(app: Any) -> Callable[[Actor], None]:
    """Make every request of `client` act as the given actor (bypasses sign-in; tests only)."""
    from spectra.api.deps import get_actor

    def _set(actor: Actor) -> None:
        app.dependency_overrides[get_actor] = lambda: actor

    return _set


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
