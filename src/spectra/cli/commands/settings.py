"""`spectra settings show | set KEY VALUE`."""

from __future__ import annotations

from typing import Annotated

import typer

from spectra.cli import transport
from spectra.cli.options import JsonOpt
from spectra.cli.output import show_list, show_object

app = typer.Typer(
    help="Workspace settings: currency, time zone, thresholds, limits, webhooks.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="settings")


@app.command("show")
def show(as_json: JsonOpt = False) -> None:
    """Show every setting with its value and whether it is the default."""
    from spectra.workspace.schemas import SettingsRead

    settings = transport.read(SettingsRead, "GET", "/api/settings")
    show_list(settings, as_json=as_json, columns=["name", "value", "is_default", "description"])


@app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="Setting name, e.g. currency.")],
    value: Annotated[str, typer.Argument(help="New value; 'none' clears an optional setting.")],
    as_json: JsonOpt = False,
) -> None:
    """Change one setting (owner only). Running servers pick it up within a second."""
    from spectra.workspace.schemas import SettingRead

    path = f"/api/settings/{key}"
    show_object(transport.read(SettingRead, "PUT", path, json={"value": value}), as_json=as_json)
