"""`spectra packages assign | assignments | cancel | migrate | import | holdings` and
`spectra groups set-default-package GROUP PACKAGE` (added to the `packages` noun at import)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.commands.packages import (
    confirm_preview,
    groups_app,
    packages_app,
    parse_when,
    progress_bar,
    show_preview,
)
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt, ReasonOpt, split_list
from spectra.cli.output import fail, print_json, show_list, show_object


def register(app: typer.Typer) -> None:
    groups_app(app).command("set-default-package")(set_default_package)


@packages_app.command("assign")
def assign(
    name: Annotated[str, typer.Argument(help="Package name.")],
    user: Annotated[str | None, typer.Option("--user", help="One user, by email.")] = None,
    users: Annotated[
        str | None, typer.Option("--users", help="Several users: emails, comma-separated.")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Every current member of this group.")
    ] = None,
    starts: Annotated[
        str | None, typer.Option(help="Start (date or ISO time; default now).")
    ] = None,
    ends: Annotated[
        str | None, typer.Option(help="End (date or ISO time); default: renews until cancelled.")
    ] = None,
    no_renew: Annotated[
        bool, typer.Option("--no-renew", help="One period only (unless --ends).")
    ] = False,
    reason: ReasonOpt = "",
    preview: Annotated[bool, typer.Option("--preview", help="Only show who would change.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply a bulk change without asking.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign a package to a user, several users (--users) or a group's current members (--group)."""
    if sum(x is not None for x in (user, users, group)) != 1:
        fail("Name exactly one of --user EMAIL, --users EMAILS or --group G.", 2)
    window = {
        "starts_at": parse_when(starts, "--starts"),
        "ends_at": parse_when(ends, "--ends"),
        "auto_renew": not no_renew,
        "reason": reason,
    }
    if user is not None and not preview:
        _assign_one(name, user, window, as_json)
        return
    emails = [user] if user is not None else split_list(users)
    target = {"group": group} if group is not None else {"emails": emails}
    body = {
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in window.items()},
        **target,
    }
    _preview_then_apply(
        f"/api/packages/{name}/assignments/bulk", body, "assigning", preview, yes, as_json
    )


def _preview_then_apply(
    path: str, body: dict[str, Any], label: str, preview: bool, yes: bool, as_json: bool
) -> None:
    """Show who would change; unless only previewing, confirm and apply with a progress bar."""
    first = transport.api("POST", path, json={**body, "preview": True})
    if preview:
        show_preview(first, as_json)
        return
    if not as_json:
        show_preview(first, False)
    if not confirm_preview(first, yes):
        return
    with progress_bar(label) as tick:
        done = _with_progress(path, body, tick)
    show_preview(done, as_json)


def _with_progress(path: str, body: dict[str, Any], tick: Callable[[int, int], None]) -> Any:
    try:
        return transport.call_with_progress("POST", path, tick, json=body)
    except transport.ApiError as exc:
        exc.fail()


def _assign_one(name: str, email: str, window: dict[str, Any], as_json: bool) -> None:
    body = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in window.items()}
    data = transport.api("POST", f"/api/packages/{name}/assignments", json={**body, "email": email})
    show_object(
        data,
        as_json=as_json,
        fields=[
            "id",
            "email",
            "package_name",
            "version",
            "status",
            "starts_at",
            "ends_at",
            "period_ends_at",
            "auto_renew",
        ],
    )


@packages_app.command("assignments")
def assignments(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's (email).")] = None,
    package: Annotated[str | None, typer.Option("--package", help="Only this package's.")] = None,
    status: Annotated[str | None, typer.Option(help="active, ended or cancelled.")] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List package assignments."""
    page = transport.api(
        "GET",
        "/api/package-assignments",
        params={
            "user": user,
            "package": package,
            "status": status,
            "limit": limit,
            "cursor": cursor,
        },
    )
    show_list(
        page,
        as_json=as_json,
        columns=[
            "id",
            "email",
            "package_name",
            "version",
            "status",
            "period_ends_at",
            "cancel_at",
            "reason",
        ],
    )


@packages_app.command("cancel")
def cancel(
    assignment_id: Annotated[
        uuid.UUID, typer.Argument(help="Assignment id (see `packages assignments`).")
    ],
    now: Annotated[
        bool, typer.Option("--now", help="Cancel at once: unused allowance expires now.")
    ] = False,
    reason: ReasonOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Cancel an assignment at the end of its current period (default) or --now."""
    when: Literal["now", "period_end"] = "now" if now else "period_end"
    data = transport.api(
        "POST",
        f"/api/package-assignments/{assignment_id}/cancel",
        json={"when": when, "reason": reason},
    )
    show_object(
        data,
        as_json=as_json,
        fields=["id", "email", "package_name", "status", "cancel_at", "closed_at"],
    )


@packages_app.command("migrate")
def migrate(
    name: Annotated[str, typer.Argument(help="Package name.")],
    to_version: Annotated[
        int | None, typer.Option(help="Target version (default: current).")
    ] = None,
    from_version: Annotated[int | None, typer.Option(help="Only holders of this version.")] = None,
    reason: ReasonOpt = "",
    preview: Annotated[bool, typer.Option("--preview", help="Only show who would change.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Move holders to another version (models and limits at once, allowance from the next period)."""
    body = {"to_version": to_version, "from_version": from_version, "reason": reason}
    _preview_then_apply(f"/api/packages/{name}/migrate", body, "migrating", preview, yes, as_json)


@packages_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with email,package[,starts_at,ends_at,reason].", exists=True, dir_okay=False
        ),
    ],
    reason: ReasonOpt = "",
    preview: Annotated[
        bool, typer.Option("--preview", help="Validate and show, change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign packages from a CSV: every line is checked first; one rejected line imports nothing."""
    text = file.read_text(encoding="utf-8")
    body = {"csv": text, "reason": reason, "preview": preview}
    try:
        with progress_bar("importing") as tick:
            data = transport.call_with_progress(
                "POST", "/api/package-assignments/import", tick, json=body
            )
    except transport.ApiError as exc:
        if as_json:
            print_json(
                {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
            )
        else:
            show_list(
                {"items": exc.details.get("rejected", [])},
                as_json=False,
                columns=["line", "email", "package", "reason"],
                title="rejected lines",
            )
        exc.fail()
    results = data["items"]
    if as_json:
        print_json({"items": results, "next_cursor": None})
        return
    for item in results:
        show_preview(item, False)


@packages_app.command("holdings")
def holdings(
    user: Annotated[str, typer.Option("--user", help="The member, by email.")],
    as_json: JsonOpt = False,
) -> None:
    """What a member holds: allowance, used, remaining, next reset, models, limits (the member's own view)."""

    page = transport.api("GET", f"/api/users/{quote(user.strip(), safe='@')}/packages")
    show_list(
        page,
        as_json=as_json,
        columns=[
            "package",
            "version",
            "allowance",
            "used",
            "remaining",
            "next_reset_at",
            "models",
            "rpm",
            "tpm",
        ],
    )


def set_default_package(
    group: Annotated[str, typer.Argument(help="Group name.")],
    package: Annotated[str, typer.Argument(help="Package name, or 'none' to clear.")],
    as_json: JsonOpt = False,
) -> None:
    """Set the package that members who join GROUP later get (current members: `packages assign --group`)."""
    name = None if package.strip().lower() == "none" else package
    data = transport.api("PUT", f"/api/groups/{group}/default-package", json={"package": name})
    show_object(data, as_json=as_json)
