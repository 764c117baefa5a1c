"""The `spectra` command: noun, then verb. Each module in `spectra.cli.commands` adds its nouns,
in the order of `COMMANDS` (a new noun module is added to it by hand; a test checks none is left out)."""

from __future__ import annotations

from typing import Annotated

import typer

from spectra.cli import transport
from spectra.cli.commands import (
    alerts,
    audit,
    backup,
    budgets,
    codes,
    demo,
    groups,
    keys,
    leads,
    ledger,
    models,
    package_assignments,
    packages,
    policy,
    pool,
    pool_health,
    prices,
    projects,
    rollouts,
    scim,
    server,
    settings,
    sso,
    tokens,
    usage,
    usage_billing,
    users,
)

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


# In this order in `--help`.
COMMANDS = (
    alerts,
    audit,
    backup,
    budgets,
    codes,
    demo,
    groups,
    keys,
    leads,
    ledger,
    models,
    packages,
    package_assignments,
    policy,
    pool,
    pool_health,
    prices,
    projects,
    rollouts,
    scim,
    server,
    settings,
    sso,
    tokens,
    usage,
    usage_billing,
    users,
)

for _module in COMMANDS:
    _module.register(app)


def main() -> None:
    app()
