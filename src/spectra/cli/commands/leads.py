"""`spectra groups leads ...` (team leads of a group) and `spectra users groups ...` (a user's
secondary groups): presentation over /api/groups/{group}/leads and /api/users/{user}/groups."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.commands.groups import group_path, groups_app
from spectra.cli.commands.users import user_path, users_app
from spectra.cli.options import JsonOpt
from spectra.cli.output import fail, show_list, show_object
from spectra.errors import InvalidAmountError
from spectra.kit.money import parse_amount

GroupArg = Annotated[str, typer.Argument(help="The group's name.")]
EmailArg = Annotated[str, typer.Argument(help="The user's email.")]
LEAD_COLUMNS = ("email", "group", "approval_limit", "created_by", "created_at")
LEAD_FIELDS = ("email", "group", "approval_limit", "created_by", "created_at")
MEMBERSHIP_COLUMNS = ("group", "is_primary")

leads_app = typer.Typer(
    help="Team leads: members who run their own group (its members, keys, packages, requests).",
    no_args_is_help=True,
)
memberships_app = typer.Typer(
    help="A user's groups: one primary (funds by default) and any secondary ones.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    groups_app.add_typer(leads_app, name="leads")
    users_app.add_typer(memberships_app, name="groups")


def _lead_path(group: str, email: str) -> str:
    return f"{group_path(group)}/leads/{quote(email.strip(), safe='@')}"


@leads_app.command("add")
def add(
    group: GroupArg,
    email: EmailArg,
    approval_limit: Annotated[
        str,
        typer.Option(
            "--approval-limit",
            help="The most the lead may approve or move at once inside the group, e.g. 50.00.",
        ),
    ] = "0",
    as_json: JsonOpt = False,
) -> None:
    """Make a member of GROUP its lead (again: change their approval limit)."""
    try:
        parse_amount(approval_limit, allow_zero=True, field="--approval-limit")
    except InvalidAmountError as exc:
        fail(exc.message, 2)
    data = transport.api(
        "PUT", _lead_path(group, email), json={"approval_limit": approval_limit.strip()}
    )
    show_object(data, as_json=as_json, fields=LEAD_FIELDS)


@leads_app.command("remove")
def remove(group: GroupArg, email: EmailArg) -> None:
    """EMAIL no longer leads GROUP (they stay a member)."""
    transport.api("DELETE", _lead_path(group, email))
    print(f"{email.strip()} no longer leads {group.strip()}.")


@leads_app.command("list")
def list_(group: GroupArg, as_json: JsonOpt = False) -> None:
    """The leads of GROUP and their approval limits."""
    page = transport.api("GET", f"{group_path(group)}/leads")
    show_list(page, as_json=as_json, columns=LEAD_COLUMNS, title=f"Leads of {group.strip()}")


@memberships_app.command("list")
def groups_list(email: EmailArg, as_json: JsonOpt = False) -> None:
    """The user's groups, primary first."""
    page = transport.api("GET", user_path(email, "/groups"))
    show_list(page, as_json=as_json, columns=MEMBERSHIP_COLUMNS, title=f"Groups of {email}")


@memberships_app.command("add")
def groups_add(email: EmailArg, group: GroupArg, as_json: JsonOpt = False) -> None:
    """Add the user to GROUP as a secondary group (their primary group still funds by default)."""
    data = transport.api("POST", user_path(email, "/groups"), json={"group": group})
    show_object(data, as_json=as_json, fields=("group", "is_primary"))


@memberships_app.command("remove")
def groups_remove(email: EmailArg, group: GroupArg) -> None:
    """Take the user out of a secondary GROUP (never the primary: `spectra users move`)."""
    transport.api("DELETE", user_path(email, f"/groups/{quote(group.strip(), safe='')}"))
    print(f"{email.strip()} left {group.strip()}.")
