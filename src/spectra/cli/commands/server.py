"""`spectra serve` and `spectra migrate`."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

from spectra.cli.output import console, fail, fail_error
from spectra.config import get_settings, reset_settings
from spectra.db import migrate as db_migrate
from spectra.db.leases import SERVE_LEASE, release, try_acquire
from spectra.errors import SpectraError
from spectra.runtime import AnotherProcessServingError, build_runtime, close_runtime


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("migrate")(migrate)


def migrate() -> None:
    """Apply database migrations up to this version's schema."""
    settings = get_settings()
    try:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(db_migrate.upgrade(settings.resolved_database_url))
    except SpectraError as exc:
        fail_error(exc)
    console.print(f"Database is at schema {db_migrate.head_revision()}.")


async def _preflight() -> list[str]:
    """Everything that can stop start-up, checked before the server binds: URL, schema,
    secret, the serve lease, and the owner account (printing how to sign in, once)."""
    runtime = await build_runtime()
    try:
        other = await try_acquire(runtime.db, SERVE_LEASE, runtime.holder, 5.0, info="preflight")
        if other is not None:
            raise AnotherProcessServingError(
                f"Another Spectra process ({other.holder}) is already serving this database; "
                "running two without shared state in Redis would weaken the overspend bound, so this one stops."
            )
        await release(runtime.db, SERVE_LEASE, runtime.holder)
        from spectra import bootstrap

        return await bootstrap.first_start(runtime)
    finally:
        await close_runtime(runtime)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes (one until shared state lives in Redis).")
    ] = 1,
) -> None:
    """Start Spectra: gateway (/v1), REST API (/api) and console (/console)."""
    if host:
        os.environ["SPECTRA_HOST"] = host
    if port:
        os.environ["SPECTRA_PORT"] = str(port)
    settings = reset_settings()
    if workers != 1:
        fail(
            f"--workers {workers} needs hold and quota state shared in Redis, which this version does not have; "
            "run one worker per database (it serves thousands of requests per second).",
            2,
        )
    try:
        lines = asyncio.run(_preflight())
    except SpectraError as exc:
        fail_error(exc)
    import uvicorn

    from spectra import logs
    from spectra.app import create_app

    logs.configure(settings.log_level, as_json=settings.log_json)
    console.print(f"Spectra is starting on {settings.public_base()}")
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)  # never split the link
    # Flush now: under a pipe or a service manager stdout is block-buffered.
    sys.stdout.flush()
    uvicorn.run(
        create_app(settings=settings, serve=True),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
