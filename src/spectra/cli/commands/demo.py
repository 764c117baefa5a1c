"""`spectra demo`: Spectra with a built-in fake upstream and a populated workspace, no provider keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spectra.cli.output import console, fail, fail_error
from spectra.cli.workspace import DEMO_DATA_DIR as DEFAULT_DATA_DIR
from spectra.errors import SpectraError

if TYPE_CHECKING:
    from spectra.config import Settings
    from spectra.demo.seed import SeedReport
    from spectra.runtime import Runtime


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Data directory of the demo workspace (default: SPECTRA_DATA_DIR, else {DEFAULT_DATA_DIR})."
        ),
    ] = None,
    upstream_port: Annotated[
        int, typer.Option(help="Port of the built-in fake upstream (0: any free port).")
    ] = 0,
    password: Annotated[
        str,
        typer.Option(
            envvar="SPECTRA_DEMO_PASSWORD", help="Password of the demo's sign-in accounts."
        ),
    ] = "spectra-demo",
    days: Annotated[int, typer.Option(min=1, max=90, help="Days of history to replay.")] = 30,
    volume: Annotated[
        float, typer.Option(min=0.01, max=5.0, help="Traffic relative to a typical team.")
    ] = 1.0,
    seed_only: Annotated[
        bool, typer.Option("--seed-only", help="Seed the workspace, print how to sign in, exit.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Start over: remove the demo's database first, then seed a new one."
        ),
    ] = False,
) -> None:
    """Start Spectra with a fake upstream, the scenarios' workspace and 30 days of usage.

    Idempotent: a second run on the same data directory seeds nothing twice and keeps what you
    changed in the demo; `--reset` starts over. Refuses a database that holds a real workspace.
    """
    if data_dir is not None:
        os.environ["SPECTRA_DATA_DIR"] = str(data_dir)
    elif "SPECTRA_DATA_DIR" not in os.environ and "SPECTRA_DATABASE_URL" not in os.environ:
        os.environ["SPECTRA_DATA_DIR"] = DEFAULT_DATA_DIR
    if host:
        os.environ["SPECTRA_HOST"] = host
    if port:
        os.environ["SPECTRA_PORT"] = str(port)
    import asyncio

    from spectra.config import reset_settings

    settings = reset_settings()
    try:
        asyncio.run(
            _run(
                settings,
                upstream_port=upstream_port,
                password=password,
                days=days,
                volume=volume,
                serve=not seed_only,
                reset=reset,
            )
        )
    except SpectraError as exc:
        fail_error(exc)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"The demo could not start: {exc}.", 1)


async def _run(
    settings: Settings,
    *,
    upstream_port: int,
    password: str,
    days: int,
    volume: float,
    serve: bool,
    reset: bool = False,
) -> None:
    from spectra.demo.upstream import DemoUpstream
    from spectra.runtime import build_runtime, close_runtime

    if reset:
        await _reset(settings)
    async with DemoUpstream(port=upstream_port) as upstream:
        runtime = await build_runtime(settings)
        try:
            await runtime.start(serve=False, run_jobs=False)
            report = await _seed(
                runtime,
                upstream_url=upstream.url,
                password=password,
                days=days,
                volume=volume,
            )
        finally:
            await close_runtime(runtime)
        _announce(settings, upstream.url, report)
        if serve:
            await _serve(settings)


async def _seed(
    runtime: Runtime, *, upstream_url: str, password: str, days: int, volume: float
) -> SeedReport | None:
    """Seed with a progress bar. On a database the demo seeded before, a step that no longer
    fits what the newcomer changed since is said in one line, and the demo serves what is there
    (None): a restart always works."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from spectra.demo.seed import seed
    from spectra.demo.workspace import check_demo_database

    owner_email = os.environ.get("SPECTRA_OWNER_EMAIL", "owner@spectra.local")
    before = await check_demo_database(runtime, owner_email=owner_email)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)  # type: ignore[arg-type]

        try:
            return await seed(
                runtime,
                upstream_url=upstream_url,
                owner_email=owner_email,
                password=password,
                days=days,
                volume=volume,
                progress=progress,
            )
        except SpectraError as exc:
            if not before:
                raise
            console.print(
                f"The demo workspace was not topped up ({exc.message}); it serves as you left "
                "it. `spectra demo --reset` starts over.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            return None


async def _reset(settings: Settings) -> None:
    """Remove the demo's database, after making sure it is the demo's (never a real workspace)."""
    from spectra.demo.workspace import check_demo_database
    from spectra.runtime import build_runtime, close_runtime

    if settings.database_url:
        fail(
            "--reset removes the demo's SQLite database in its data directory; with "
            "SPECTRA_DATABASE_URL set, drop and create that database yourself, then run the demo.",
            2,
        )
    database = settings.data_dir / "spectra.db"
    if database.exists():
        runtime = await build_runtime(settings)
        try:
            await check_demo_database(runtime, owner_email="owner@spectra.local")
        finally:
            await close_runtime(runtime)
    for path in (
        database,
        database.with_name("spectra.db-wal"),
        database.with_name("spectra.db-shm"),
        settings.resolved_audit_anchor_file,
        settings.data_dir / "owner-setup-link.txt",
    ):
        path.unlink(missing_ok=True)
    console.print(f"Removed the demo workspace in {settings.data_dir.resolve()}; seeding anew.")


def codex_command(base: str, secret: str) -> str:
    """Codex ignores OPENAI_BASE_URL: its custom provider is set with `-c` (the same keys as in
    ~/.codex/config.toml, README "Codex CLI")."""
    provider = (
        f'{{name="Spectra",base_url="{base}/v1",env_key="SPECTRA_API_KEY",wire_api="responses"}}'
    )
    return (
        f"SPECTRA_API_KEY={secret} codex -c model_provider=spectra "
        f"-c 'model_providers.spectra={provider}'"
    )


def claude_command(base: str, secret: str) -> str:
    return f"ANTHROPIC_BASE_URL={base} ANTHROPIC_API_KEY={secret} claude"


def _announce(settings: Settings, upstream_url: str, report: SeedReport | None) -> None:
    base = settings.public_base()
    if report is None:
        done = "Nothing was seeded this time."
    elif report.sent:
        done = f"Seeded {report.sent} requests of history since {report.start:%Y-%m-%d}."
    else:
        done = "The demo workspace was already seeded; nothing was added."
    owner = report.owner_email if report else "owner@spectra.local"
    lines = [
        "",
        done,
        f"Fake upstream (no model behind it): {upstream_url}",
        "",
        f"Sign in at {base}/console/ as {owner} with the password "
        f"'{report.password if report else 'spectra-demo'}' (unless you changed it).",
        "Members priya@ and tom@demo.spectra.local and the admin sam@demo.spectra.local use it too.",
    ]
    if report is not None and report.quickstart_secret:
        lines += [
            "",
            f"A key for {report.quickstart_email} (shown once):",
            f"  Claude Code: {claude_command(base, report.quickstart_secret)}",
            f"  Codex CLI:   {codex_command(base, report.quickstart_secret)}",
        ]
    if settings.database_url:
        lines += ["", "The spectra command acts on this demo with the same SPECTRA_DATABASE_URL."]
    else:
        lines += [
            "",
            "The spectra command acts on this demo (another terminal, or a script) with:",
            f"  export SPECTRA_DATA_DIR={settings.data_dir.resolve()}",
        ]
    if report is not None and report.codes:
        lines += ["", "Unused redemption codes worth 10.00 each (shown once):"]
        lines += [f"  {code}" for code in report.codes]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


async def _serve(settings: Settings) -> None:
    import uvicorn

    from spectra import logs
    from spectra.app import create_app

    logs.configure(settings.log_level, as_json=settings.log_json)
    console.print(f"\nSpectra (demo) is serving on {settings.public_base()}; Ctrl+C stops it.")
    config = uvicorn.Config(
        create_app(settings=settings, serve=True),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
        proxy_headers=False,  # the app applies SPECTRA_TRUSTED_PROXIES itself
    )
    await uvicorn.Server(config).serve()
