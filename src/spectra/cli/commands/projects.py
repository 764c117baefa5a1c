"""`spectra projects ...`: projects with members and keys, a monthly budget, and a report."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.commands.keys import parse_id
from spectra.cli.options import JsonOpt, LimitOpt
from spectra.cli.output import fail, plain, show_list, show_object

projects_app = typer.Typer(help="Projects: members, keys, budget, report.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The project's name.")]
COLUMNS = ("name", "monthly_budget", "mode", "header_allowed", "members", "keys")
FIELDS = ("id", "name", "monthly_budget", "mode", "header_allowed", "members", "keys")


def register(app: typer.Typer) -> None:
    app.add_typer(projects_app, name="projects")


def project_path(name: str) -> str:
    return f"/api/projects/{quote(name.strip(), safe='')}"


def _show(method: str, path: str, *, as_json: bool, **options: Any) -> None:
    """Call a project route and show the project it answers (a `ProjectRead`)."""
    from spectra.budgets.schemas import ProjectRead

    project = transport.read(ProjectRead, method, path, **options)
    show_object(project, as_json=as_json, fields=FIELDS)


@projects_app.command("create")
def create(
    name: NameArg,
    budget: Annotated[
        str | None, typer.Option("--budget", help="Monthly budget, e.g. 500.00.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="hard, soft or approval.")] = "hard",
    header: Annotated[
        bool,
        typer.Option("--header/--no-header", help="Members may attribute with x-spectra-project."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a project."""
    body = {"name": name, "budget": budget, "mode": mode, "header_allowed": header}
    _show("POST", "/api/projects", json=body, as_json=as_json)


@projects_app.command("list")
def list_projects(
    limit: LimitOpt = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Continue from here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List projects (yours, unless you may read everyone's)."""
    from spectra.budgets.schemas import ProjectRead

    params = {"limit": limit, "cursor": cursor}
    page = transport.read_page(ProjectRead, "/api/projects", params=params)
    show_list(page, as_json=as_json, columns=COLUMNS, title="Projects")


@projects_app.command("show")
def show(name: NameArg, as_json: JsonOpt = False) -> None:
    """Show a project with its members and keys."""
    _show("GET", project_path(name), as_json=as_json)


@projects_app.command("add-member")
def add_member(
    name: NameArg,
    email: Annotated[str, typer.Argument(help="The member's email.")],
    as_json: JsonOpt = False,
) -> None:
    """Add a member (they may then attribute requests with x-spectra-project, if allowed)."""
    _show("POST", f"{project_path(name)}/members", json={"email": email}, as_json=as_json)


@projects_app.command("add-key")
def add_key(
    name: NameArg,
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Attribute a key's requests to the project."""
    body = {"key_id": str(parse_id(key_id, "key"))}
    _show("POST", f"{project_path(name)}/keys", json=body, as_json=as_json)


@projects_app.command("remove")
def remove(
    name: NameArg,
    member: Annotated[str | None, typer.Option("--member", help="Remove this member.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Remove this key.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a member or a key from the project, or (with neither) the project itself."""
    if member is not None and key is not None:
        fail("Give --member or --key, not both.", 2)
    params: dict[str, Any] = {"member": member}
    if key is not None:
        params["key_id"] = str(parse_id(key, "key"))
    _show("DELETE", project_path(name), params=params, as_json=as_json)


@projects_app.command("budget")
def budget(
    name: NameArg,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Monthly budget; `none` removes it.")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="hard, soft or approval.")] = None,
    header: Annotated[
        bool | None,
        typer.Option("--header/--no-header", help="Members may attribute with x-spectra-project."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the project's monthly budget, its mode, or the header switch."""
    body: dict[str, Any] = {}
    if amount is not None:
        body["budget"] = None if amount.strip().lower() == "none" else amount.strip()
    if mode is not None:
        body["mode"] = mode
    if header is not None:
        body["header_allowed"] = header
    if not body:
        fail("Nothing to set: give --amount, --mode or --header/--no-header.", 2)
    _show("PATCH", project_path(name), json=body, as_json=as_json)


@projects_app.command("report")
def report(
    name: NameArg,
    since: Annotated[
        str | None, typer.Option("--from", help="Start, e.g. 2026-12-01T00:00:00+00:00.")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="End (exclusive).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The project's requests and cost by member and by model, exact from the usage records."""
    from spectra.budgets.schemas import ProjectReportRead

    params = {"since": since, "until": until}
    found = transport.read(ProjectReportRead, "GET", f"{project_path(name)}/report", params=params)
    if as_json:
        show_object(found, as_json=True)
        return
    data = plain(found)
    show_object(
        data, as_json=False, fields=("project", "since", "until", "requests", "cost", "charged")
    )
    columns = ("label", "requests", "cost")
    show_list({"items": data["by_user"]}, as_json=False, columns=columns, title="By member")
    show_list({"items": data["by_model"]}, as_json=False, columns=columns, title="By model")
