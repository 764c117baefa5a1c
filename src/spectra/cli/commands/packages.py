"""`spectra packages create | edit | list | show | versions | archive` (the catalog), and the
helpers the assignment commands (`package_assignments`) share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt, split_list
from spectra.cli.output import console, fail, print_json, show_list, show_object
from spectra.packages.periods import Period

packages_app = typer.Typer(help="Package catalog, assignments and periods.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(packages_app, name="packages")


def groups_app(app: typer.Typer) -> typer.Typer:
    """The `groups` sub-app, shared with the users commands: found if registered, else created."""
    for info in app.registered_groups:
        if info.name == "groups" and info.typer_instance is not None:
            return info.typer_instance
    groups = typer.Typer(help="Groups (teams).", no_args_is_help=True)
    app.add_typer(groups, name="groups")
    return groups


def dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


def parse_when(text: str | None, name: str) -> datetime | None:
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


def show_preview(data: dict[str, Any], as_json: bool) -> None:
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
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def confirm_preview(preview: dict[str, Any], yes: bool) -> bool:
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
        "model_patterns": split_list(models) if models else ["*"],
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
        "model_patterns": split_list(models) if models is not None else None,
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
