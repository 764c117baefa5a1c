"""`spectra users ...`: create, import, list, show, update, suspend, reactivate, remove, roles,
groups, passwords and setup links. Users are named by email."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt
from spectra.cli.output import console, err_console, fail, plain, show_list, show_object

users_app = typer.Typer(
    help="Users: who exists, their role, group and status.", no_args_is_help=True
)

LIST_COLUMNS = ("email", "name", "role", "status", "group", "created_at")
SHOW_FIELDS = (
    "id",
    "email",
    "name",
    "role",
    "status",
    "status_reason",
    "group",
    "has_password",
    "created_at",
    "updated_at",
    "last_seen_at",
)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def user_path(email: str, suffix: str = "") -> str:
    return f"/api/users/{quote(email.strip(), safe='@')}{suffix}"


def _show_user(user: Any, as_json: bool) -> None:
    data = plain(user)
    show_object(data, as_json=as_json, fields=[f for f in SHOW_FIELDS if f in data])


def _show_link(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        show_object(data, as_json=True)
        return
    if data.get("sent_to"):
        console.print(
            f"A one-time password-setup link was sent to {data['sent_to']} "
            f"(valid until {data['expires_at']}).",
            markup=False,
        )
        return
    console.print(
        f"One-time password-setup link (shown once, valid until {data['expires_at']}):",
        style="bold",
    )
    console.print(data["url"], markup=False, highlight=False, soft_wrap=True)


@users_app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    role: Annotated[
        str, typer.Option("--role", help="owner, admin, billing, auditor or member.")
    ] = "member",
    group: Annotated[
        str | None, typer.Option("--group", help="Home group (default: `default`).")
    ] = None,
    invite: Annotated[
        bool, typer.Option("--invite", help="Start invited, with a one-time setup link.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a user (in the group `default` unless --group names another)."""
    body = {"email": email, "name": name, "role": role, "group": group, "invite": invite}
    from spectra.users.schemas import UserCreated

    data = plain(transport.read(UserCreated, "POST", "/api/users", json=body))
    if data.get("setup_link") is None:
        data.pop("setup_link", None)
    link = data.pop("setup_link", None) if not as_json else None
    _show_user(data, as_json)
    if link:
        _show_link(link, False)


def _read_password() -> str:
    if sys.stdin.isatty():
        value: str = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
        return value
    return sys.stdin.read().rstrip("\r\n")


@users_app.command("set-password")
def set_password(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Set a user's password, read from stdin (never from the command line); ends their sessions."""
    password = _read_password()
    if not password:
        fail(
            "No password on stdin; pipe it in (e.g. `spectra users set-password EMAIL < file`).", 2
        )
    from spectra.users.schemas import UserRead

    path = user_path(email, "/password")
    user = transport.read(UserRead, "POST", path, json={"password": password})
    if as_json:
        show_object(user, as_json=True)
    else:
        console.print(f"Password set for {user.email}; their sessions were ended.")


mfa_app = typer.Typer(help="Second factors of users.", no_args_is_help=True)
users_app.add_typer(mfa_app, name="mfa")


@mfa_app.command("reset")
def mfa_reset(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Remove a user's second factors (authenticator app, passkeys, recovery codes); audited."""
    from spectra.users.mfa.schemas import MfaResetRead

    reset = transport.read(MfaResetRead, "POST", user_path(email, "/mfa/reset"))
    if as_json:
        show_object(reset, as_json=True)
    else:
        console.print(
            f"Second factors of {reset.email} removed: {reset.totp} authenticator app, "
            f"{reset.passkeys} passkeys, {reset.recovery_codes} recovery codes."
        )


@users_app.command("setup-link")
def setup_link(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Print a one-time password-setup link for a user (valid 72 hours)."""
    data = transport.api("POST", user_path(email, "/setup-link"))
    _show_link(data, as_json)


@users_app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="invited, active, suspended or removed.")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only this role.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this group.")] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in the email or name.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N users.")] = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List users, newest first."""
    params = {
        "status": status,
        "role": role,
        "group": group,
        "q": search,
        "limit": limit,
        "cursor": cursor,
    }
    from spectra.users.schemas import UserRead

    page = transport.read_page(UserRead, "/api/users", params=params)
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="Users")


@users_app.command("show")
def show(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Show one user."""
    from spectra.users.schemas import UserRead

    _show_user(transport.read(UserRead, "GET", user_path(email)), as_json)


@users_app.command("update")
def update(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    new_email: Annotated[str | None, typer.Option("--email", help="New email.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's display name or email."""
    _simple("PATCH ", email, as_json, body={"name": name, "email": new_email})


def _simple(
    action: str, email: str, as_json: bool, *, body: dict[str, Any] | None = None, **params: Any
) -> None:
    """Run one status/role/group action (`action` = method and path suffix) and show the user."""
    from spectra.users.schemas import UserRead

    method, _, suffix = action.partition(" ")
    path = user_path(email, suffix)
    _show_user(transport.read(UserRead, method, path, json=body, params=params), as_json)


@users_app.command("suspend")
def suspend(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (shown to the user).")
    ] = "Suspended by an admin.",
    as_json: JsonOpt = False,
) -> None:
    """Suspend a user: sessions end and keys stop working within a second."""
    _simple("POST /suspend", email, as_json, body={"reason": reason})


@users_app.command("reactivate")
def reactivate(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Make a suspended or removed user active again."""
    _simple("POST /reactivate", email, as_json)


@users_app.command("remove")
def remove(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a user (soft: history, usage and ledger stay)."""
    _simple("DELETE ", email, as_json, reason=reason)


@users_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[str, typer.Argument(help="owner, admin, billing, auditor or member.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a user another role (owners only)."""
    _simple("POST /role", email, as_json, body={"role": role})


@users_app.command("move")
def move(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    group: Annotated[str, typer.Argument(help="The new home group.")],
    as_json: JsonOpt = False,
) -> None:
    """Move a user to another home group."""
    _simple("POST /group", email, as_json, body={"group": group})


def _print_rejections(rejected: list[dict[str, Any]]) -> None:
    for row in rejected:
        who = f" ({row['email']})" if row.get("email") else ""
        err_console.print(
            f"line {row['line']}{who}: {row['reason']}", markup=False, highlight=False
        )


@users_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: email,name,group,role (header optional).", exists=True, dir_okay=False
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import users from CSV, all or nothing; rejected lines are listed with the reason."""
    text = file.read_text(encoding="utf-8-sig")
    try:
        answer = transport.call("POST", "/api/users/import", json={"csv": text})
    except transport.ApiError as exc:
        _print_rejections(exc.details.get("rejected", []))
        exc.fail()
    from spectra.users.schemas import ImportReport

    report = ImportReport.model_validate(answer)
    if as_json:
        show_object(report, as_json=True)
        return
    console.print(f"Imported {report.created} users.")
