"""`spectra keys ...`: members' gateway keys (secrets printed once, at creation and rotation)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import fail, show_list, show_object, show_secret

if TYPE_CHECKING:
    from spectra.keys.schemas import KeyCreated

keys_app = typer.Typer(help="Members' API keys for the gateway.", no_args_is_help=True)

LIST_COLUMNS = (
    "id",
    "user_email",
    "name",
    "prefix",
    "status",
    "scopes",
    "last_used_at",
    "effective_expires_at",
)
SHOW_FIELDS = (
    "id",
    "user_email",
    "name",
    "prefix",
    "status",
    "scopes",
    "ip_allowlist",
    "created_at",
    "last_used_at",
    "expires_at",
    "expires_after_first_use_days",
    "effective_expires_at",
    "grace_until",
    "rotated_from_id",
    "revoked_at",
    "revoked_reason",
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def parse_id(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        fail(f"'{raw}' is not a {what} id; `spectra {what}s list` shows them.", 2)


def parse_date(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    from spectra.keys.schemas import parse_expiry

    try:
        value = parse_expiry(raw)
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except ValueError:
        fail(f"'{raw}' is not a date; write it as YYYY-MM-DD (or an ISO time with a zone).", 2)


def _show_created(data: KeyCreated, *, as_json: bool, what: str) -> None:
    heading = f"{what} (shown once, store it now):"
    show_secret(data, as_json=as_json, fields=SHOW_FIELDS, heading=heading)


@keys_app.command("create")
def create(
    user: Annotated[
        str | None,
        typer.Option("--user", help="The member's email (default: yourself with --server)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Model glob the key may use (repeatable).")
    ] = None,
    allow_ip: Annotated[
        list[str] | None,
        typer.Option("--allow-ip", help="CIDR the key may be used from (repeatable)."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day the key works (YYYY-MM-DD, UTC).")
    ] = None,
    expires_after_first_use: Annotated[
        int | None,
        typer.Option("--expires-after-first-use", help="Days the key works after its first use."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="Bind the key to one of the member's groups (spend there)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; prints the secret once (--json: "secret")."""
    expires_at = parse_date(expires)
    if user is None and not transport.remote():
        fail("Name the member with --user EMAIL.", 2)

    body = {
        "user_email": user,
        "name": name,
        "scopes": scope or [],
        "ip_allowlist": allow_ip or [],
        "expires_at": expires_at.isoformat() if expires_at else None,
        "expires_after_first_use_days": expires_after_first_use,
    }
    if group is not None:
        body["group"] = group
    from spectra.keys.schemas import KeyCreated

    data = transport.read(KeyCreated, "POST", "/api/keys", json=body)
    _show_created(data, as_json=as_json, what="API key")


@keys_app.command("list")
def list_(
    user: Annotated[
        str | None, typer.Option("--user", help="Only this member's keys (email).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="active, revoked or expired.")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys, newest first."""
    from spectra.keys.schemas import KeyRead

    page = transport.read_page(
        KeyRead,
        "/api/keys",
        params={"user_email": user, "status": status, "limit": limit, "cursor": cursor},
    )
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="API keys")


@keys_app.command("show")
def show(
    key_id: Annotated[str, typer.Argument(help="The key's id.")], as_json: JsonOpt = False
) -> None:
    """Show one key."""
    from spectra.keys.schemas import KeyRead

    kid = parse_id(key_id, "key")
    data = transport.read(KeyRead, "GET", f"/api/keys/{kid}")
    show_object(data, as_json=as_json, fields=SHOW_FIELDS)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit log).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key now; every gateway process stops accepting it within a second."""
    from spectra.keys.schemas import KeyRead

    kid = parse_id(key_id, "key")
    data = transport.read(KeyRead, "POST", f"/api/keys/{kid}/revoke", json={"reason": reason})
    show_object(data, as_json=as_json, fields=SHOW_FIELDS)


@keys_app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
    grace_hours: Annotated[
        float, typer.Option("--grace-hours", help="How long the old secret keeps working.")
    ] = 24.0,
    as_json: JsonOpt = False,
) -> None:
    """Issue a new secret for a key (printed once); the old one works for the grace period."""
    from spectra.keys.schemas import KeyCreated

    kid = parse_id(key_id, "key")
    body = {"grace_hours": grace_hours}
    data = transport.read(KeyCreated, "POST", f"/api/keys/{kid}/rotate", json=body)
    _show_created(data, as_json=as_json, what="New API key")
