"""`spectra scim ...`: directory provisioning (SCIM 2.0) — its tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from spectra.cli import transport
from spectra.cli.commands.keys import parse_date
from spectra.cli.commands.tokens import COLUMNS
from spectra.cli.options import JsonOpt
from spectra.cli.output import fail, show_secret

scim_app = typer.Typer(help="Directory provisioning (SCIM 2.0 at /scim/v2).", no_args_is_help=True)
token_app = typer.Typer(help="SCIM tokens for an identity provider.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    scim_app.add_typer(token_app, name="token")
    app.add_typer(scim_app, name="scim")


@token_app.command("create")
def create(
    user: Annotated[
        str | None,
        typer.Option("--user", help="The owner or admin it acts as (local command only)."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day the token works (YYYY-MM-DD, UTC).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label, e.g. the IdP's name.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a SCIM token for your identity provider; prints it once (--json: "secret")."""
    expires_at = parse_date(expires)
    if user is None and not transport.remote():
        fail("Name the owner or admin the token acts as with --user EMAIL.", 2)
    body = {
        "user_email": user,
        "name": name,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    from spectra.keys.schemas import TokenCreated

    data = transport.read(TokenCreated, "POST", "/api/tokens/scim", json=body)
    heading = (
        "SCIM token (shown once; paste it into the identity provider with the URL "
        "<server>/scim/v2):"
    )
    show_secret(data, as_json=as_json, fields=(*COLUMNS, "scope"), heading=heading)
