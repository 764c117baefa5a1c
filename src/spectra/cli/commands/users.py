"""`spectra users ...`: create, import, list, show, update, suspend, reactivate, remove, roles,
groups, passwords and setup links. Users are named by email."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from spectra.audit.actor import Actor
from spectra.cli import context
from spectra.cli.output import console, err_console, fail, items, show_list, show_object
from spectra.db.session import Session
from spectra.users import service as users_service
from spectra.users.errors import ImportRejectedError
from spectra.users.schemas import UserRead
from spectra.users.sessions import setup_path

users_app = typer.Typer(
    help="Users: who exists, their role, group and status.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
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


def _show_user(data: dict[str, Any], as_json: bool) -> None:
    show_object(data, as_json=as_json, fields=[f for f in SHOW_FIELDS if f in data])


def _read(user: Any) -> dict[str, Any]:
    return UserRead.of(user).model_dump(mode="json")


def _local_base() -> str:
    from spectra.config import get_settings

    return get_settings().public_base()


def _show_link(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        show_object(data, as_json=True)
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
    if context.current().remote:
        body = {"email": email, "name": name, "role": role, "group": group, "invite": invite}
        data = context.api("POST", "/api/users", json=body)
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            fields: dict[str, Any] = {"email": email, "name": name, "role": role, "group": group}
            if not invite:
                return _read(await users_service.create_user(session, actor, **fields))
            issued = await users_service.invite_user(session, actor, **fields)
            link = {
                "token": issued.token,
                "url": _local_base() + setup_path(issued.token),
                "expires_at": issued.expires_at.isoformat(),
            }
            return {**_read(issued.user), "setup_link": link}

        data = context.run_local(run)
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
    if context.current().remote:
        data = context.api("POST", user_path(email, "/password"), json={"password": password})
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            return _read(
                await users_service.set_password(session, actor, user=email, password=password)
            )

        data = context.run_local(run)
    if as_json:
        show_object(data, as_json=True)
    else:
        console.print(f"Password set for {data['email']}; their sessions were ended.")


@users_app.command("setup-link")
def setup_link(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Print a one-time password-setup link for a user (valid 72 hours)."""
    if context.current().remote:
        data = context.api("POST", user_path(email, "/setup-link"))
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            issued = await users_service.create_setup_link(session, actor, user=email)
            return {
                "token": issued.token,
                "url": _local_base() + setup_path(issued.token),
                "expires_at": issued.expires_at.isoformat(),
            }

        data = context.run_local(run)
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
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue from a previous page.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List users, newest first."""
    if context.current().remote:
        params = {
            "status": status,
            "role": role,
            "group": group,
            "q": search,
            "limit": limit,
            "cursor": cursor,
        }
        page = context.api("GET", "/api/users", params=params)
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            result = await users_service.list_users(
                session,
                actor,
                status=status,
                role=role,
                group=group,
                text=search,
                limit=limit,
                cursor=cursor,
            )
            return items([_read(u) for u in result.items], result.next_cursor)

        page = context.run_local(run)
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="Users")


@users_app.command("show")
def show(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Show one user."""
    if context.current().remote:
        data = context.api("GET", user_path(email))
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            return _read(await users_service.get_user(session, actor, user=email))

        data = context.run_local(run)
    _show_user(data, as_json)


@users_app.command("update")
def update(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    new_email: Annotated[str | None, typer.Option("--email", help="New email.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's display name or email."""
    if context.current().remote:
        data = context.api("PATCH", user_path(email), json={"name": name, "email": new_email})
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            return _read(
                await users_service.update_user(
                    session, actor, user=email, email=new_email, name=name
                )
            )

        data = context.run_local(run)
    _show_user(data, as_json)


def _simple(
    action: str, email: str, as_json: bool, *, body: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """Run one status/role/group action locally or remotely and show the user."""
    remote_routes = {
        "suspend_user": ("POST", "/suspend"),
        "reactivate_user": ("POST", "/reactivate"),
        "remove_user": ("DELETE", ""),
        "change_role": ("POST", "/role"),
        "move_group": ("POST", "/group"),
    }
    if context.current().remote:
        method, suffix = remote_routes[action]
        params = {"reason": kwargs.get("reason")} if action == "remove_user" else None
        data = context.api(method, user_path(email, suffix), json=body, params=params)
    else:
        fn = getattr(users_service, action)

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            return _read(await fn(session, actor, user=email, **kwargs))

        data = context.run_local(run)
    _show_user(data, as_json)


@users_app.command("suspend")
def suspend(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (shown to the user).")
    ] = "Suspended by an admin.",
    as_json: JsonOpt = False,
) -> None:
    """Suspend a user: sessions end and keys stop working within a second."""
    _simple("suspend_user", email, as_json, body={"reason": reason}, reason=reason)


@users_app.command("reactivate")
def reactivate(
    email: Annotated[str, typer.Argument(help="The user's email.")], as_json: JsonOpt = False
) -> None:
    """Make a suspended or removed user active again."""
    _simple("reactivate_user", email, as_json)


@users_app.command("remove")
def remove(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a user (soft: history, usage and ledger stay)."""
    _simple("remove_user", email, as_json, reason=reason)


@users_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[str, typer.Argument(help="owner, admin, billing, auditor or member.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a user another role (owners only)."""
    _simple("change_role", email, as_json, body={"role": role}, role=role)


@users_app.command("move")
def move(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    group: Annotated[str, typer.Argument(help="The new home group.")],
    as_json: JsonOpt = False,
) -> None:
    """Move a user to another home group."""
    _simple("move_group", email, as_json, body={"group": group}, group=group)


def _print_rejections(rejected: list[dict[str, Any]]) -> None:
    for row in rejected:
        who = f" ({row['email']})" if row.get("email") else ""
        err_console.print(
            f"line {row['line']}{who}: {row['reason']}", markup=False, highlight=False
        )


def _remote_import(text: str) -> dict[str, Any]:
    """Like `context.api`, but a rejected file prints its report before failing."""
    ctx = context.current()
    token = ctx.token or os.environ.get("SPECTRA_TOKEN")
    if not token:
        fail(
            "--server needs an API token in SPECTRA_TOKEN (create one with `spectra tokens create`).",
            5,
        )
    try:
        response = httpx.post(
            f"{ctx.server}/api/users/import",
            json={"csv": text},
            headers={"authorization": f"Bearer {token}"},
            timeout=300,
        )
    except httpx.HTTPError as exc:
        fail(f"Cannot reach {ctx.server}: {exc}.", 9)
    if response.status_code == 422:
        error = response.json().get("error", {})
        _print_rejections(error.get("details", {}).get("rejected", []))
    if response.status_code >= 400:
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = f"{ctx.server} answered {response.status_code}."
        codes = {401: 5, 403: 6, 404: 3, 409: 4, 422: 2, 429: 8, 503: 9}
        fail(message, codes.get(response.status_code, 1))
    result: dict[str, Any] = response.json()
    return result


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
    if context.current().remote:
        data = _remote_import(text)
    else:

        async def run(session: Session, actor: Actor) -> dict[str, Any]:
            try:
                created = await users_service.import_users(session, actor, csv_text=text)
            except ImportRejectedError as exc:
                _print_rejections(exc.details.get("rejected", []))
                raise
            return {"created": len(created), "users": [_read(u) for u in created]}

        data = context.run_local(run)
    if as_json:
        show_object(data, as_json=True)
        return
    console.print(f"Imported {data['created']} users.")
