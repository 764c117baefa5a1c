"""`spectra groups ...`: teams and their monthly budgets (amounts in currency units).
`spectra groups set-default-package` belongs to the packages domain's commands."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt
from spectra.cli.output import fail, plain, show_list, show_object
from spectra.errors import InvalidAmountError
from spectra.kit.money import parse_amount

LIST_COLUMNS = ("name", "member_count", "monthly_cap", "member_monthly_cap", "description")
SHOW_FIELDS = (
    "id",
    "name",
    "description",
    "is_builtin",
    "member_count",
    "monthly_cap",
    "member_monthly_cap",
    "created_at",
    "updated_at",
)
NO_CAP = ("none", "off", "")


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")


groups_app = typer.Typer(help="Groups (teams) and their budgets.", no_args_is_help=True)


def group_path(name: str) -> str:
    return f"/api/groups/{quote(name.strip(), safe='')}"


def _cap(raw: str | None, option: str) -> int | None:
    """Micros of a cap typed in currency units; `none` removes the cap."""
    if raw is None or raw.strip().lower() in NO_CAP:
        return None
    try:
        return parse_amount(raw, allow_zero=True, field=option)
    except InvalidAmountError as exc:
        fail(exc.message, 2)


def _show(group: Any, as_json: bool) -> None:
    data = plain(group)
    show_object(data, as_json=as_json, fields=[f for f in SHOW_FIELDS if f in data])


@groups_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The group's name (unique, any case).")],
    description: Annotated[str, typer.Option("--description", help="What the group is.")] = "",
    monthly_cap: Annotated[
        str | None,
        typer.Option("--monthly-cap", help="Monthly spend cap for the group, e.g. 500.00."),
    ] = None,
    member_monthly_cap: Annotated[
        str | None, typer.Option("--member-monthly-cap", help="Monthly cap per member.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group."""
    group_cap = _cap(monthly_cap, "--monthly-cap")
    member_cap = _cap(member_monthly_cap, "--member-monthly-cap")
    body = {
        "name": name,
        "description": description,
        "monthly_cap": monthly_cap if group_cap is not None else None,
        "member_monthly_cap": member_monthly_cap if member_cap is not None else None,
    }
    from spectra.users.schemas import GroupRead

    _show(transport.read(GroupRead, "POST", "/api/groups", json=body), as_json)


@groups_app.command("list")
def list_(
    search: Annotated[str | None, typer.Option("--search", help="Text in the name.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N groups.")] = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List groups with their member counts and budgets."""
    from spectra.users.schemas import GroupRead

    params = {"q": search, "limit": limit, "cursor": cursor}
    page = transport.read_page(GroupRead, "/api/groups", params=params)
    show_list(page, as_json=as_json, columns=LIST_COLUMNS, title="Groups")


@groups_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The group's name.")], as_json: JsonOpt = False
) -> None:
    """Show one group."""
    from spectra.users.schemas import GroupRead

    _show(transport.read(GroupRead, "GET", group_path(name)), as_json)


@groups_app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="The group's name.")],
    new_name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.")
    ] = None,
    monthly_cap: Annotated[
        str | None,
        typer.Option("--monthly-cap", help="Monthly cap for the group; `none` removes it."),
    ] = None,
    member_monthly_cap: Annotated[
        str | None,
        typer.Option("--member-monthly-cap", help="Monthly cap per member; `none` removes it."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename a group, describe it, or set its budgets."""
    caps: dict[str, Any] = {}
    if monthly_cap is not None:
        caps["monthly_cap_micros"] = _cap(monthly_cap, "--monthly-cap")
    if member_monthly_cap is not None:
        caps["member_monthly_cap_micros"] = _cap(member_monthly_cap, "--member-monthly-cap")
    body: dict[str, Any] = {}
    if new_name is not None:
        body["name"] = new_name
    if description is not None:
        body["description"] = description
    if "monthly_cap_micros" in caps:
        body["monthly_cap"] = monthly_cap if caps["monthly_cap_micros"] is not None else None
    if "member_monthly_cap_micros" in caps:
        body["member_monthly_cap"] = (
            member_monthly_cap if caps["member_monthly_cap_micros"] is not None else None
        )
    from spectra.users.schemas import GroupRead

    _show(transport.read(GroupRead, "PATCH", group_path(name), json=body), as_json)
