"""`spectra settings show | set KEY VALUE`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spectra.audit.actor import Actor
from spectra.cli import context
from spectra.cli.output import show_list, show_object
from spectra.db.session import Session
from spectra.workspace import service as workspace_service

app = typer.Typer(help="Workspace settings: currency, time zone, thresholds, limits, webhooks.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="settings")


@app.command("show")
def show(as_json: JsonOpt = False) -> None:
    """Show every setting with its value and whether it is the default."""
    if context.current().remote:
        data: dict[str, Any] = context.api("GET", "/api/settings")
    else:
        async def go(session: Session, actor: Actor) -> dict[str, Any]:
            rows = await workspace_service.list_settings(session, actor)
            return {"items": [r.model_dump() for r in rows], "next_cursor": None}

        data = context.run_local(go)
    show_list(data, as_json=as_json, columns=["name", "value", "is_default", "description"])


@app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="Setting name, e.g. currency.")],
    value: Annotated[str, typer.Argument(help="New value; 'none' clears an optional setting.")],
    as_json: JsonOpt = False,
) -> None:
    """Change one setting (owner only). Running servers pick it up within a second."""
    if context.current().remote:
        data: dict[str, Any] = context.api("PUT", f"/api/settings/{key}", json={"value": value})
    else:
        async def go(session: Session, actor: Actor) -> dict[str, Any]:
            return (await workspace_service.set_setting(session, actor, name=key, value=value)).model_dump()

        data = context.run_local(go)
    show_object(data, as_json=as_json)
