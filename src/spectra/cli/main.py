"""The `spectra` command: noun, then verb. Each module in `spectra.cli.commands` adds its nouns."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated

import typer

from spectra.cli import commands, transport

app = typer.Typer(
    name="spectra",
    help="Spectra: a self-hosted team workspace for AI coding.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="SPECTRA_SERVER",
            help="Act through this server's REST API (token from SPECTRA_TOKEN).",
        ),
    ] = None,
) -> None:
    transport.configure(server)
    ctx.call_on_close(transport.close)


def _register() -> None:
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"spectra.cli.commands.{module.name}")
        loaded.register(app)


_register()


def main() -> None:
    app()
