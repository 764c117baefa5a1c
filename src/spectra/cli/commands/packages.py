"""`spectra packages ...` and `spectra groups set-default-package GROUP PACKAGE`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.output import console, fail, print_json, show_list, show_object
from spectra.packages.periods import Period

packages_app = typer.Typer(help="Package catalog, assignments and periods.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most N items.")]
CursorOpt = Annotated[str | None, typer.Option("--cursor", help="Continue from this cursor.")]


def register(app: typer.Typer) -> None:
    app.add_typer(packages_app, name="packages")
    _groups_app(app).command("set-default-package")(set_default_package)


def _groups_app(app: typer.Typer) -> typer.Typer:
    """The `groups` sub-app, shared with the users commands: found if registered, else created."""
    for info in app.registered_groups:
        if info.name == "groups" and info.typer_instance is not None:
            return info.typer_instance
    groups = typer.Typer(help="Groups (teams).", no_args_is_help=True)
    app.add_typer(groups, name="groups")
    return groups


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _when(text: str | None, name: str) -> datetime | None:
    """A date or ISO time; without an offset it is read in the workspace time zone."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"{name} '{text}' is not a date (2026-12-01) or an ISO time.", 2)


def _show_package(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    terms = data["terms"]
    show_object(
        {
            "name": data["name"],
            "status": data["status"],
            "version": data["current_version"],
            "allowance": f"{terms['allowance']} per {terms['period']}"
            + (f" ({terms['valid_days']} days)" if terms["valid_days"] else ""),
            "rollover": f"{terms['rollover_periods']} periods"
            if terms["rollover_periods"]
            else "none",
            "models": terms["model_patterns"],
            "rpm": terms["rpm"],
            "tpm": terms["tpm"],
            "max concurrent": terms["max_concurrent"],
            "max cost per request": terms["max_cost_per_request"],
            "list price": terms["list_price"],
            "holders": data["active_assignments"],
            "description": data["description"],
        },
        as_json=False,
    )


def _show_preview(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    rows = [
        {
            **r,
            "allowance": f"{r['allowance_before']} → {r['allowance_after']}",
            "version": f"{r['from_version'] or '—'} → {r['to_version'] or '—'}",
        }
        for r in data["rows"]
    ]
    show_list(
        {"items": rows},
        as_json=False,
        columns=["email", "change", "version", "allowance", "note"],
        title=f"{data['action']} {data['package']}",
    )
    verb = "applied" if data["applied"] else "preview"
    console.print(
        f"{verb}: {data['gain']} gain, {data['lose']} lose, {data['change']} change allowance, "
        f"{data['unchanged']} unchanged; allowance per period changes by {data['allowance_delta']}"
    )


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _confirm(preview: dict[str, Any], yes: bool) -> bool:
    touched = (
        preview["gain"]
        + preview["lose"]
        + preview["change"]
        + (preview["unchanged"] if preview["action"] == "migrate" else 0)
    )
    if touched == 0:
        console.print("Nothing to change.")
        return False
    return yes or typer.confirm(f"Apply to {touched} users?")


@packages_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Package name.")],
    allowance: Annotated[
        str, typer.Option(help="Allowance per period, in currency units (20.00).")
    ],
    period: Annotated[Period, typer.Option(help="monthly, weekly, daily or one_time.")],
    valid_days: Annotated[
        int | None, typer.Option(help="Validity of a one_time package, in days.")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Allowed model glob patterns, comma-separated (default: all models)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the package is for.")] = "",
    rollover: Annotated[
        int, typer.Option(help="Unused allowance rolls over, capped at N periods (0 = none).")
    ] = 0,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    max_concurrent: Annotated[int | None, typer.Option(help="Concurrent requests.")] = None,
    max_cost: Annotated[
        str | None, typer.Option(help="Largest cost of one request, in currency units.")
    ] = None,
    list_price: Annotated[
        str, typer.Option(help="What one period costs the budget (reports).")
    ] = "0",
    as_json: JsonOpt = False,
) -> None:
    """Add a package to the catalog."""
    body = {
        "name": name,
        "description": description,
        "allowance": allowance,
        "period": period.value,
        "valid_days": valid_days,
        "rollover_periods": rollover,
        "model_patterns": _split(models) if models else ["*"],
        "rpm": rpm,
        "tpm": tpm,
        "max_concurrent": max_concurrent,
        "max_cost_per_request": max_cost,
        "list_price": list_price,
    }
    _show_package(transport.api("POST", "/api/packages", json=body), as_json)


@packages_app.command("edit")
def edit(
    name: Annotated[str, typer.Argument(help="Package name.")],
    allowance: Annotated[str | None, typer.Option(help="Allowance per period.")] = None,
    period: Annotated[
        Period | None, typer.Option(help="monthly, weekly, daily or one_time.")
    ] = None,
    valid_days: Annotated[
        int | None, typer.Option(help="Validity of a one_time package, in days.")
    ] = None,
    models: Annotated[
        str | None, typer.Option(help="Allowed model glob patterns, comma-separated.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the package is for.")] = None,
    rollover: Annotated[
        int | None, typer.Option(help="Rollover cap in periods (0 = none).")
    ] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    max_concurrent: Annotated[int | None, typer.Option(help="Concurrent requests.")] = None,
    max_cost: Annotated[str | None, typer.Option(help="Largest cost of one request.")] = None,
    list_price: Annotated[
        str | None, typer.Option(help="What one period costs the budget.")
    ] = None,
    note: Annotated[str, typer.Option(help="Why (kept on the new version).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Change a package: new terms make a new version; holders keep theirs until migrated."""
    given = {
        "allowance": allowance,
        "period": period.value if period else None,
        "valid_days": valid_days,
        "model_patterns": _split(models) if models is not None else None,
        "description": description,
        "rollover_periods": rollover,
        "rpm": rpm,
        "tpm": tpm,
        "max_concurrent": max_concurrent,
        "max_cost_per_request": max_cost,
        "list_price": list_price,
    }
    body = {k: v for k, v in given.items() if v is not None} | {"note": note}
    _show_package(transport.api("PATCH", f"/api/packages/{name}", json=body), as_json)


@packages_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="active or archived.")] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the catalog."""
    page = transport.api(
        "GET", "/api/packages", params={"status": status, "limit": limit, "cursor": cursor}
    )
    rows = [
        {
            **p,
            "allowance": f"{p['terms']['allowance']}/{p['terms']['period']}",
            "models": p["terms"]["model_patterns"],
            "version": p["current_version"],
            "holders": p["active_assignments"],
        }
        for p in page["items"]
    ]
    show_list(
        {**page, "items": rows if not as_json else page["items"]},
        as_json=as_json,
        columns=["name", "status", "version", "allowance", "models", "holders"],
    )


@packages_app.command("show")
def show(name: str, as_json: JsonOpt = False) -> None:
    """Show a package and its current terms."""
    _show_package(transport.api("GET", f"/api/packages/{name}"), as_json)


@packages_app.command("versions")
def versions(name: str, as_json: JsonOpt = False) -> None:
    """List every version of a package's terms."""
    page = transport.api("GET", f"/api/packages/{name}/versions")
    show_list(
        page,
        as_json=as_json,
        columns=[
            "version",
            "allowance",
            "period",
            "model_patterns",
            "rpm",
            "note",
            "created_by",
            "created_at",
        ],
    )


@packages_app.command("archive")
def archive(name: str, as_json: JsonOpt = False) -> None:
    """Stop assigning a package (current holders keep it until it ends or is cancelled)."""
    _show_package(transport.api("POST", f"/api/packages/{name}/archive"), as_json)


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
    reason: Annotated[str, typer.Option(help="Why (shown in the audit log).")] = "",
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
        "starts_at": _when(starts, "--starts"),
        "ends_at": _when(ends, "--ends"),
        "auto_renew": not no_renew,
        "reason": reason,
    }
    if user is not None and not preview:
        _assign_one(name, user, window, as_json)
        return
    emails = [user] if user is not None else _split(users)
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
        _show_preview(first, as_json)
        return
    if not as_json:
        _show_preview(first, False)
    if not _confirm(first, yes):
        return
    with _progress(label) as tick:
        done = _with_progress(path, body, tick)
    _show_preview(done, as_json)


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
    reason: Annotated[str, typer.Option(help="Why (shown in the audit log).")] = "",
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
    reason: Annotated[str, typer.Option(help="Why (shown in the audit log).")] = "",
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
    reason: Annotated[str, typer.Option(help="Why (shown in the audit log).")] = "",
    preview: Annotated[
        bool, typer.Option("--preview", help="Validate and show, change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign packages from a CSV: every line is checked first; one rejected line imports nothing."""
    text = file.read_text(encoding="utf-8")
    body = {"csv": text, "reason": reason, "preview": preview}
    try:
        with _progress("importing") as tick:
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
        _show_preview(item, False)


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
