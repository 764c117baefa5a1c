"""`spectra budgets ...`: per-key budgets and limits (set, list, show, clear), a project's or a
group's monthly budget through the same `set`, and budget extension requests."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spectra.cli import transport
from spectra.cli.commands.groups import group_path
from spectra.cli.commands.keys import parse_id
from spectra.cli.commands.projects import project_path
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import fail, show_list, show_object

budgets_app = typer.Typer(help="Key budgets, limits and extensions.", no_args_is_help=True)
extensions_app = typer.Typer(
    help="Requests to spend past an approval budget.", no_args_is_help=True
)

LIST_COLUMNS = ("key_id", "day", "week", "month", "mode", "rpm", "tpm", "concurrency", "models")
EXT_COLUMNS = ("id", "key_id", "project_id", "amount", "status", "requested_by", "expires_at")


def register(app: typer.Typer) -> None:
    app.add_typer(budgets_app, name="budgets")
    budgets_app.add_typer(extensions_app, name="extensions")


def _csv(raw: str | None) -> list[str] | None:
    return None if raw is None else [p.strip() for p in raw.split(",") if p.strip()]


@budgets_app.command("set")
def set_budget(
    key: Annotated[str | None, typer.Option("--key", help="A member key's id.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="A project's name.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="A member's email.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="A group's name.")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="The budget, e.g. 25.00; `none` removes it.")
    ] = None,
    period: Annotated[
        str, typer.Option("--period", help="day, week or month (projects and groups: month).")
    ] = "month",
    mode: Annotated[
        str | None, typer.Option("--mode", help="hard (default), soft or approval.")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute (keys).")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute (keys).")] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="Open requests at once (keys).")
    ] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="Allowed model patterns (keys), comma-separated.")
    ] = None,
    clients: Annotated[
        str | None,
        typer.Option("--clients", help="Allowed client families (keys), comma-separated."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a budget for a key (per day, week or month, with limits), a project or a group
    (per month)."""
    named = [n for n in (key, project, user, group) if n is not None]
    if len(named) != 1:
        fail("Name exactly one of --key, --project, --user or --group.", 2)
    if period not in ("day", "week", "month"):
        fail("--period is day, week or month.", 2)
    value = None if amount is None or amount.strip().lower() == "none" else amount.strip()
    if user is not None:
        fail(
            "Per-member budgets are the group's member cap: "
            "`spectra groups update GROUP --member-monthly-cap AMOUNT`.",
            2,
        )
    if (project is not None or group is not None) and period != "month":
        fail("Projects and groups have monthly budgets; use --period month.", 2)
    if group is not None:
        if mode not in (None, "hard"):
            fail("A group's cap is always hard; leave out --mode.", 2)
        if amount is None:
            fail("Give the group's monthly cap with --amount (`none` removes it).", 2)
        from spectra.users.schemas import GroupRead

        cap = {"monthly_cap": value}
        show_object(
            transport.read(GroupRead, "PATCH", group_path(group), json=cap), as_json=as_json
        )
        return
    if project is not None:
        body: dict[str, Any] = {}
        if amount is not None:
            body["budget"] = value
        if mode is not None:
            body["mode"] = mode
        from spectra.budgets.schemas import ProjectRead

        path = project_path(project)
        show_object(transport.read(ProjectRead, "PATCH", path, json=body), as_json=as_json)
        return
    assert key is not None
    change: dict[str, Any] = {}
    if amount is not None:
        change[period] = value
    for name, given in (
        ("mode", mode),
        ("rpm", rpm),
        ("tpm", tpm),
        ("concurrency", concurrency),
        ("models", _csv(models)),
        ("clients", _csv(clients)),
    ):
        if given is not None:
            change[name] = given
    if not change:
        fail("Nothing to set: give --amount, --mode or a limit.", 2)
    _key_budget("PATCH", key, as_json=as_json, json=change)


def _key_budget(method: str, key: str, *, as_json: bool, **options: Any) -> None:
    """Call the key budget route of `key` (an id) and show the `KeyBudgetRead` it answers."""
    from spectra.budgets.schemas import KeyBudgetRead

    path = f"/api/budgets/keys/{parse_id(key, 'key')}"
    show_object(transport.read(KeyBudgetRead, method, path, **options), as_json=as_json)


def _extension(method: str, path: str, *, as_json: bool, **options: Any) -> None:
    """Call an extension route and show the `ExtensionRead` it answers."""
    from spectra.budgets.schemas import ExtensionRead

    path = f"/api/budgets/extensions{path}"
    show_object(transport.read(ExtensionRead, method, path, **options), as_json=as_json)


@budgets_app.command("list")
def list_budgets(
    limit: LimitOpt = None, cursor: CursorOpt = None, as_json: JsonOpt = False
) -> None:
    """List key budgets (yours, unless you may read everyone's)."""
    from spectra.budgets.schemas import KeyBudgetRead

    params = {"limit": limit, "cursor": cursor}
    page = transport.read_page(KeyBudgetRead, "/api/budgets/keys", params=params)
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="Key budgets")


@budgets_app.command("show")
def show(
    key: Annotated[str, typer.Option("--key", help="A member key's id.")], as_json: JsonOpt = False
) -> None:
    """Show a key's budget and limits."""
    _key_budget("GET", key, as_json=as_json)


@budgets_app.command("clear")
def clear(
    key: Annotated[str, typer.Option("--key", help="A member key's id.")], as_json: JsonOpt = False
) -> None:
    """Remove a key's budget and limits (the deployment's defaults apply again)."""
    _key_budget("DELETE", key, as_json=as_json)


@extensions_app.command("request")
def request(
    amount: Annotated[str, typer.Option("--amount", help="How much more, e.g. 10.00.")],
    key: Annotated[str | None, typer.Option("--key", help="Your key's id.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Your project.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Ask to spend past an approval budget of your key or project."""
    body: dict[str, Any] = {"amount": amount, "reason": reason}
    if key is not None:
        body["key_id"] = str(parse_id(key, "key"))
    if project is not None:
        body["project"] = project
    _extension("POST", "", json=body, as_json=as_json)


@extensions_app.command("list")
def list_extensions(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved or rejected.")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List extension requests, newest first."""
    from spectra.budgets.schemas import ExtensionRead

    params = {"status": status, "limit": limit, "cursor": cursor}
    page = transport.read_page(ExtensionRead, "/api/budgets/extensions", params=params)
    show_list(page, as_json=as_json, columns=EXT_COLUMNS, title="Budget extensions")


@extensions_app.command("approve")
def approve(
    extension_id: Annotated[str, typer.Argument(help="The request's id.")],
    expires: Annotated[
        str, typer.Option("--expires", help="When it lapses, e.g. 2026-12-31T18:00:00+00:00.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Approve an extension until --expires."""
    eid = parse_id(extension_id, "extension")
    _extension("POST", f"/{eid}/approve", json={"expires_at": expires}, as_json=as_json)


@extensions_app.command("reject")
def reject(
    extension_id: Annotated[str, typer.Argument(help="The request's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Reject an extension request."""
    eid = parse_id(extension_id, "extension")
    _extension("POST", f"/{eid}/reject", as_json=as_json)
