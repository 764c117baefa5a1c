"""`spectra demo`: Spectra with a built-in fake upstream and a populated workspace, no provider keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spectra.cli.output import console, fail, fail_error
from spectra.errors import SpectraError

if TYPE_CHECKING:
    from spectra.config import Settings

DEFAULT_DATA_DIR = ".spectra-demo"


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
) -> None:
    """Start Spectra with a fake upstream, the scenarios' workspace and 30 days of usage.

    Idempotent: a second run on the same data directory seeds nothing twice. Refuses a database
    that holds a real workspace.
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
            )
        )
    except SpectraError as exc:
        fail_error(exc)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"The demo could not start: {exc}.", 1)


async def _run(
    settings: Settings, *, upstream_port: int, password: str, days: int, volume: float, serve: bool
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from spectra.demo.seed import seed
    from spectra.demo.upstream import DemoUpstream
    from spectra.runtime import build_runtime, close_runtime

    async with DemoUpstream(port=upstream_port) as upstream:
        runtime = await build_runtime(settings)
        try:
            await runtime.start(serve=False, run_jobs=False)
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

                report = await seed(
                    runtime,
                    upstream_url=upstream.url,
                    owner_email=os.environ.get("SPECTRA_OWNER_EMAIL", "owner@spectra.local"),
                    password=password,
                    days=days,
                    volume=volume,
                    progress=progress,
                )
        finally:
            await close_runtime(runtime)
        _announce(settings, upstream.url, report)
        if serve:
            await _serve(settings)


def _announce(settings: Settings, upstream_url: str, report: object) -> None:
    from spectra.demo.seed import SeedReport

    assert isinstance(report, SeedReport)
    base = settings.public_base()
    done = (
        f"Seeded {report.sent} requests of history since {report.start:%Y-%m-%d}."
        if report.sent
        else "The demo workspace was already seeded; nothing was added."
    )
    lines = [
        "",
        done,
        f"Fake upstream (no model behind it): {upstream_url}",
        "",
        f"Sign in at {base}/console/ as {report.owner_email} with the password "
        f"'{report.password}' (unless you changed it).",
        "Members priya@ and tom@demo.spectra.local and the admin sam@demo.spectra.local use it too.",
        "",
        f"A key for {report.quickstart_email} (shown once):",
        f"  Claude Code: ANTHROPIC_BASE_URL={base} ANTHROPIC_API_KEY={report.quickstart_secret} claude",
        f"  Codex CLI:   OPENAI_BASE_URL={base}/v1 OPENAI_API_KEY={report.quickstart_secret} codex",
    ]
    if report.codes:
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
