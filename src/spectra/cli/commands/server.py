"""`spectra serve` and `spectra migrate`."""

from __future__ import annotations

import enum
import ipaddress
import os
import sys
from typing import Annotated, Any

import typer

from spectra.cli.output import console, fail, fail_error
from spectra.errors import ConfigError, SpectraError
from spectra.kit.files import private_dir


class RedisUnreachableError(ConfigError):
    code = "redis_unreachable"


class HttpServer(enum.StrEnum):
    """The HTTP server under the app. uvicorn (uvloop + httptools) is the default; granian
    (Rust HTTP, uvloop) is an optional dependency: `pip install 'spectra[granian]'`."""

    uvicorn = "uvicorn"
    granian = "granian"


GRACE_SECONDS = 30
"""How long a stopping server lets requests in flight (streams) finish."""
KEEP_ALIVE_SECONDS = 5
"""An idle kept-alive connection closes after this."""


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("migrate")(migrate)


def migrate() -> None:
    """Apply database migrations up to this version's schema."""
    import asyncio

    from spectra.cli.workspace import announce
    from spectra.config import get_settings
    from spectra.db import migrate as db_migrate

    announce()
    settings = get_settings()
    try:
        if settings.is_sqlite:
            private_dir(settings.data_dir)
        asyncio.run(db_migrate.upgrade(settings.resolved_database_url))
    except SpectraError as exc:
        fail_error(exc)
    console.print(f"Database is at schema {db_migrate.head_revision()}.")


async def _preflight() -> list[str]:
    """Everything that can stop start-up, checked before the server binds: URL, schema,
    secret, the serve lease, and the owner account (printing how to sign in, once)."""
    import asyncio

    from spectra.db.leases import release, try_acquire
    from spectra.runtime import build_runtime, close_runtime

    runtime = await build_runtime()
    try:
        await runtime.take_serve_lease()
        await runtime.release_serve_lease()
        if runtime.redis is not None and not await runtime.redis.ping():
            raise RedisUnreachableError(
                "SPECTRA_REDIS_URL is set but Redis does not answer; start Redis (or unset the "
                "variable to run a single process) and try again."
            )
        from spectra import bootstrap

        # Several processes may start at once on a new database: one at a time creates the
        # owner account and the built-in rows.
        for _ in range(300):
            if await try_acquire(runtime.db, "bootstrap", runtime.holder, 30.0) is None:
                break
            await asyncio.sleep(0.1)
        try:
            return await bootstrap.first_start(runtime)
        finally:
            await release(runtime.db, "bootstrap", runtime.holder)
    finally:
        await close_runtime(runtime)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (more than one needs SPECTRA_REDIS_URL)."),
    ] = None,
    behind_proxy: Annotated[
        bool,
        typer.Option(
            "--behind-proxy",
            help="A reverse proxy bounds slow clients; needed to listen beyond loopback.",
        ),
    ] = False,
    server: Annotated[
        HttpServer | None,
        typer.Option(
            "--server",
            help="HTTP server: uvicorn (default), or granian (optional: pip install "
            "'spectra[granian]'); also SPECTRA_SERVER.",
        ),
    ] = None,
) -> None:
    """Start Spectra: gateway (/v1), REST API (/api) and console (/console)."""
    if host:
        os.environ["SPECTRA_HOST"] = host
    if port:
        os.environ["SPECTRA_PORT"] = str(port)
    if behind_proxy:
        os.environ["SPECTRA_BEHIND_PROXY"] = "true"
    if server:
        os.environ["SPECTRA_SERVER"] = server.value
    import asyncio

    from spectra.config import reset_settings

    settings = reset_settings()
    if not _is_loopback(settings.host) and not settings.behind_proxy:
        # uvicorn has no header-read timeout: a client that sends headers a byte a minute
        # holds a connection forever. A reverse proxy (nginx) bounds it; see deployment.md.
        fail(
            f"Listening on {settings.host} exposes Spectra to slow clients that uvicorn cannot "
            "time out; put a reverse proxy in front (docs/deployment.md) and start with "
            "--behind-proxy (or SPECTRA_BEHIND_PROXY=true).",
            2,
        )
    count = workers if workers is not None else settings.workers
    if count < 1:
        fail("--workers must be at least 1.", 2)
    if count > 1 and not settings.redis_url:
        fail(
            f"--workers {count} needs hold and rate-limit state shared in Redis; set "
            "SPECTRA_REDIS_URL (see docs/deployment.md) or run one worker.",
            2,
        )
    chosen = HttpServer(settings.server)
    if chosen is HttpServer.granian and not _granian_installed():
        fail(
            "--server granian needs the optional granian package: pip install "
            "'spectra[granian]' (or start with --server uvicorn).",
            2,
        )
    try:
        lines = asyncio.run(_preflight())
    except SpectraError as exc:
        fail_error(exc)
    from spectra import logs
    from spectra.app import create_app

    logs.configure(settings.log_level, as_json=settings.log_json)
    console.print(f"Spectra is starting on {settings.public_base()}")
    from spectra import bootstrap

    # The link goes to a terminal only; a journal (systemd) would keep it readable.
    for line in bootstrap.announce(lines, data_dir=settings.data_dir, stdout=sys.stdout):
        console.print(line, markup=False, highlight=False, soft_wrap=True)  # never split the link
    # Each worker of several builds its own app and runtime (and takes its own serve lease).
    app: object = (
        "spectra.app:serve_app" if count > 1 else create_app(settings=settings, serve=True)
    )
    # Flush now: under a pipe or a service manager stdout is block-buffered.
    sys.stdout.flush()
    if chosen is HttpServer.granian:
        _run_granian(app, count, settings.host, settings.port)
    else:
        _run_uvicorn(app, count, settings.host, settings.port)


def _run_uvicorn(app: Any, count: int, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        factory=count > 1,
        workers=count if count > 1 else None,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        # The app applies SPECTRA_TRUSTED_PROXIES itself; uvicorn's default would trust
        # X-Forwarded-For from 127.0.0.1 (anyone on this host could pick their client IP).
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        server_header=False,
    )


def _granian_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("granian") is not None


def _run_granian(app: Any, count: int, host: str, port: int) -> None:
    """granian (Rust HTTP/1.1, no proxy-header handling of its own: the app applies
    SPECTRA_TRUSTED_PROXIES). One worker runs embedded in this process on uvloop, so that the
    process that was started is the one serving (signals, CPU readings, the serve lease); several
    are granian's worker processes, each building its app from `spectra.app:serve_app`."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings

    # hyper's header-read timeout also bounds an idle kept-alive connection's wait for the next
    # request, so it plays uvicorn's timeout_keep_alive.
    http1 = HTTP1Settings(header_read_timeout=KEEP_ALIVE_SECONDS * 1000)
    common: dict[str, Any] = {
        "address": host,
        "port": port,
        "interface": Interfaces.ASGI,
        "http": HTTPModes.http1,
        "websockets": False,
        "http1_settings": http1,
        "log_enabled": False,
        "log_access": False,
    }
    if count > 1:
        from granian.server import Server

        Server(
            "spectra.app:serve_app",
            factory=True,
            workers=count,
            loop=Loops.uvloop,
            workers_kill_timeout=GRACE_SECONDS,
            **common,
        ).serve()
        return
    import asyncio
    import signal

    import uvloop
    from granian.server.embed import Server as Embedded

    async def main() -> None:
        embedded = Embedded(app, **common)
        embedded.workers_kill_timeout = GRACE_SECONDS  # not a constructor argument here
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, embedded.stop)
        await embedded.serve()
        if embedded.interrupt_children:
            # The worker ended on its own (start-up failed): exit non-zero, as granian's
            # process mode and uvicorn do, so a service manager sees the failure.
            raise SystemExit(1)

    uvloop.run(main())
