"""`spectra rollouts ...`: staged rollouts: create, show, list, promote (with a dry-run first),
roll back, metrics per cohort."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.commands.policy import show_dry_run
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import console, fail, print_json, show_done, show_list, show_object

rollouts_app = typer.Typer(
    help="Staged rollouts: pilot -> wave 1 -> everyone.", no_args_is_help=True
)

COHORT_HELP = (
    "NAME:key=value;... with groups=A,B users=a@x,b@x models=P,Q package=NAME "
    "monthly-cap=AMOUNT member-cap=AMOUNT everyone percent=N exclude-users=a@x "
    "exclude-groups=A,B (repeat, in order)"
)


watch_app = typer.Typer(
    help="Who hears of each automatic decision of a rollout.", no_args_is_help=True
)
rollouts_app.add_typer(watch_app, name="watch")


def register(app: typer.Typer) -> None:
    app.add_typer(rollouts_app, name="rollouts")


def parse_cohort(spec: str) -> dict[str, Any]:
    """`pilot:groups=Platform;models=claude-opus-*;package=Pro` -> a cohort body."""
    name, _, rest = spec.partition(":")
    cohort: dict[str, Any] = {"name": name.strip()}
    keys = {
        "groups": "groups",
        "users": "users",
        "models": "models",
        "package": "package",
        "monthly-cap": "monthly_cap",
        "member-cap": "member_monthly_cap",
        "percent": "percent",
        "exclude-users": "exclude_users",
        "exclude-groups": "exclude_groups",
    }
    for part in filter(None, (p.strip() for p in rest.split(";"))):
        key, eq, value = part.partition("=")
        key = key.strip()
        if key == "everyone" and not eq:
            cohort["everyone"] = True
        elif key in ("groups", "users", "models", "exclude-users", "exclude-groups"):
            cohort[keys[key]] = [v.strip() for v in value.split(",") if v.strip()]
        elif key in keys:
            cohort[keys[key]] = value.strip()
        else:
            fail(f"Unknown cohort setting '{key}'; use {COHORT_HELP}.", 2)
    return cohort


@rollouts_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The rollout's name.")],
    cohort: Annotated[list[str] | None, typer.Option("--cohort", help=COHORT_HELP)] = None,
    goal: Annotated[str, typer.Option("--goal", help="What the rollout is for.")] = "",
    min_days: Annotated[
        int | None, typer.Option("--min-days", help="Gate: days between cohorts.")
    ] = None,
    max_error_rate: Annotated[
        str | None, typer.Option("--max-error-rate", help="Gate: percent, e.g. 5.")
    ] = None,
    max_refusal_rate: Annotated[
        str | None, typer.Option("--max-refusal-rate", help="Gate: percent, e.g. 10.")
    ] = None,
    holdout: Annotated[
        str | None,
        typer.Option("--holdout", help="Percent kept out of every percentage cohort, e.g. 5."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A JSON file with the cohorts instead.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a rollout with its cohorts in order; nothing changes until a promotion."""
    body: dict[str, Any] = {
        "name": name,
        "goal": goal,
        "min_days": min_days,
        "max_error_rate": max_error_rate,
        "max_refusal_rate": max_refusal_rate,
        "holdout": holdout,
    }
    if file is not None:
        try:
            loaded = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            fail(f"Could not read {file}: {exc}.", 2)
        body["cohorts"] = loaded["cohorts"] if isinstance(loaded, dict) else loaded
    else:
        body["cohorts"] = [parse_cohort(c) for c in cohort or []]
    data = transport.api("POST", "/api/rollouts", json=body)
    _show(data, as_json)


def _show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    show_object(
        data,
        as_json=False,
        fields=("name", "goal", "status", "min_days", "max_error_rate", "max_refusal_rate"),
    )
    show_list(
        {"items": data["cohorts"]},
        as_json=False,
        columns=(
            "position",
            "name",
            "percent",
            "models",
            "package",
            "monthly_cap",
            "status",
            "promoted_at",
        ),
    )


@rollouts_app.command("show")
def show(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Show a rollout and its cohorts."""
    data = transport.api("GET", f"/api/rollouts/{name}")
    _show(data, as_json)


@rollouts_app.command("list")
def list_(
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List rollouts, newest first."""
    params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v}
    data = transport.api("GET", "/api/rollouts", params=params)
    show_list(data, as_json=as_json, columns=("name", "status", "goal", "created_at"))


@rollouts_app.command("promote")
def promote(
    name: Annotated[str, typer.Argument()],
    cohort: Annotated[
        str | None, typer.Option("--cohort", help="The cohort; the next one by default.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only draft and dry-run the promotion; show it.")
    ] = False,
    days: Annotated[int, typer.Option("--days", help="Dry-run look-back in days.")] = 7,
    yes_without_dry_run: Annotated[
        bool, typer.Option("--yes-without-dry-run", help="Promote although nothing was dry-run.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Promote the next cohort (its latest dry-run is published); --dry-run only evaluates it."""
    if dry_run:
        made = transport.api("POST", "/api/policy/drafts", json={"rollout": name, "cohort": cohort})
        data = transport.api(
            "POST", f"/api/policy/drafts/{made['id']}/dry-run", json={"days": days}
        )
        if as_json:
            print_json(data)
        else:
            show_dry_run(data)
            console.print(f"to apply: spectra rollouts promote {name}", markup=False)
        return
    data = transport.api(
        "POST",
        f"/api/rollouts/{name}/promote",
        json={"cohort": cohort, "confirm_without_dry_run": yes_without_dry_run},
    )
    show_done(data, as_json=as_json, message=f"promoted cohort '{data['name']}' of {name}")


@rollouts_app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument()],
    cohort: Annotated[
        str | None, typer.Option("--cohort", help="The cohort; the last promoted by default.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reverse the last promoted cohort: its policy changes and package assignments."""
    data = transport.api("POST", f"/api/rollouts/{name}/rollback", json={"cohort": cohort})
    show_done(data, as_json=as_json, message=f"rolled back cohort '{data['name']}' of {name}")


@rollouts_app.command("metrics")
def metrics(
    name: Annotated[str, typer.Argument()],
    days: Annotated[int, typer.Option("--days", help="Days before (and after) promotion.")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """Per cohort: members, requests, spend vs cap, refusal and error rates, clients."""
    data = transport.api("GET", f"/api/rollouts/{name}/metrics", params={"days": days})
    if as_json:
        print_json(data)
        return
    rows = []
    for c in data["cohorts"]:
        for side in ("before", "after"):
            w = c.get(side)
            if w is None:
                continue
            rows.append(
                {
                    "cohort": c["name"],
                    "status": c["status"],
                    "window": side,
                    "members": c["members"],
                    "active": w["active_members"],
                    "requests": w["requests"],
                    "spend": w["spend"],
                    "cap": c["group_caps"],
                    "refusal %": w["refusal_rate"],
                    "error %": w["error_rate"],
                    "clients": ", ".join(f"{k} {v}" for k, v in w["clients"].items()),
                }
            )
    show_list(
        {"items": rows},
        as_json=False,
        columns=(
            "cohort",
            "status",
            "window",
            "members",
            "active",
            "requests",
            "spend",
            "cap",
            "refusal %",
            "error %",
            "clients",
        ),
    )


@rollouts_app.command("autopilot")
def autopilot(
    state: Annotated[str, typer.Argument(help="on or off.")],
    name: Annotated[str, typer.Argument(help="The rollout.")],
    settings: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            help="A JSON file of autopilot settings (window_hours, min_requests, "
            "error_rate_pause, ..., start_hour, end_hour, days, freezes, approval_above).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Let the rollout promote, pause and roll back by itself (on), or stop it (off)."""
    if state not in ("on", "off"):
        fail("Say `on` or `off`.", 2)
    body: dict[str, Any] = {"on": state == "on"}
    if settings is not None:
        try:
            body["settings"] = json.loads(settings.read_text())
        except (OSError, ValueError) as exc:
            fail(f"Could not read {settings}: {exc}.", 2)
    data = transport.api("PUT", f"/api/rollouts/{name}/autopilot", json=body)
    show_done(
        data, as_json=as_json, message=f"autopilot {state} for {name} (status {data['status']})"
    )


@rollouts_app.command("approve")
def approve(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Approve the next wave for the autopilot (needed above its approval size)."""
    data = transport.api("POST", f"/api/rollouts/{name}/approve")
    show_done(data, as_json=as_json, message=f"approved cohort '{data['cohort']}' of {name}")


@rollouts_app.command("timeline")
def timeline(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Waves, gate readings over time, and each decision with who or what made it."""
    data = transport.api("GET", f"/api/rollouts/{name}/timeline")
    if as_json:
        print_json(data)
        return
    show_list(
        {"items": data["events"]},
        as_json=False,
        columns=("at", "cohort", "kind", "actor", "outcome", "explanation"),
    )


UserOpt = Annotated[str, typer.Option("--user", help="The person's email.")]


def _show_people(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    owner = data["owner"]["email"] if data["owner"] else "—"
    console.print(f"{data['rollout']}: owner {owner}", markup=False)
    show_list({"items": data["watchers"]}, as_json=False, columns=("email", "name"))


@rollouts_app.command("owner")
def owner(
    name: Annotated[str, typer.Argument(help="The rollout.")],
    user: Annotated[str | None, typer.Option("--user", help="The owner's email.")] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Leave the rollout without an owner.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set the rollout's owner (`--user EMAIL`), clear it (`--clear`), or show it and the
    watchers (neither)."""
    if user is not None and clear:
        fail("Give --user or --clear, not both.", 2)
    if user is None and not clear:
        data = transport.api("GET", f"/api/rollouts/{name}/people")
    else:
        data = transport.api("PUT", f"/api/rollouts/{name}/owner", json={"user": user})
    _show_people(data, as_json)


@watch_app.command("add")
def watch_add(
    name: Annotated[str, typer.Argument(help="The rollout.")],
    user: UserOpt,
    as_json: JsonOpt = False,
) -> None:
    """Add a watcher: they hear of each promotion, pause, rollback and approval wait."""
    data = transport.api("POST", f"/api/rollouts/{name}/watchers", json={"user": user})
    _show_people(data, as_json)


@watch_app.command("remove")
def watch_remove(
    name: Annotated[str, typer.Argument(help="The rollout.")],
    user: UserOpt,
    as_json: JsonOpt = False,
) -> None:
    """Remove a watcher."""
    data = transport.api("DELETE", f"/api/rollouts/{name}/watchers/{quote(user, safe='')}")
    _show_people(data, as_json)


@watch_app.command("list")
def watch_list(
    name: Annotated[str, typer.Argument(help="The rollout.")], as_json: JsonOpt = False
) -> None:
    """The rollout's owner and watchers."""
    _show_people(transport.api("GET", f"/api/rollouts/{name}/people"), as_json)
