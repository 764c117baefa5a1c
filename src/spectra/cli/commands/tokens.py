"""`spectra tokens ...`: API tokens for the REST API and `spectra --server` (printed once)."""

from __future__ import annotations

from typing import Annotated

import typer

from spectra.cli import transport
from spectra.cli.commands.keys import parse_date, parse_id
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import fail, show_list, show_object, show_secret

tokens_app = typer.Typer(
    help="API tokens for the REST API and `spectra --server`.", no_args_is_help=True
)

COLUMNS = (
    "id",
    "user_email",
    "name",
    "prefix",
    "read_only",
    "status",
    "last_used_at",
    "expires_at",
)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def create(
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="Whose token, by email: required without --server (the local command may name "
            "anyone); with --server only yourself, the default.",
        ),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="The token can read but not change anything.")
    ] = False,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day the token works (YYYY-MM-DD, UTC).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an API token carrying its user's role (narrowed by --read-only); prints it once
    (--json: "secret").

    Without --server: `spectra tokens create --user EMAIL`. With --server: your own token.
    """
    expires_at = parse_date(expires)
    if user is None and not transport.remote():
        fail(
            "Without --server, name the token's user with --user EMAIL (with --server the token "
            "is yours).",
            2,
        )

    body = {
        "user_email": user,
        "name": name,
        "read_only": read_only,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    from spectra.keys.schemas import TokenCreated

    data = transport.read(TokenCreated, "POST", "/api/tokens", json=body)
    heading = "API token (shown once; use it as SPECTRA_TOKEN with --server):"
    show_secret(data, as_json=as_json, fields=COLUMNS, heading=heading)


@tokens_app.command("list")
def list_(
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user's tokens (email).")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List API tokens (your own; admins see everyone's)."""
    from spectra.keys.schemas import TokenRead

    params = {"user_email": user, "limit": limit, "cursor": cursor}
    page = transport.read_page(TokenRead, "/api/tokens", params=params)
    show_list(page, as_json=as_json, columns=COLUMNS, title="API tokens")


@tokens_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id.")], as_json: JsonOpt = False
) -> None:
    """Revoke an API token now."""
    from spectra.keys.schemas import TokenRead

    tid = parse_id(token_id, "token")
    data = transport.read(TokenRead, "POST", f"/api/tokens/{tid}/revoke")
    show_object(data, as_json=as_json, fields=COLUMNS)
