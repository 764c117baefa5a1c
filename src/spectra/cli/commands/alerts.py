"""`spectra alerts ...`: channels (email, Slack, Teams, signed webhook), rules, test messages,
the alert and delivery history."""

from __future__ import annotations

import os
from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import fail, show_list, show_object

alerts_app = typer.Typer(help="Alerts: channels, rules, tests, history.", no_args_is_help=True)
channels_app = typer.Typer(help="Where alerts go.", no_args_is_help=True)
rules_app = typer.Typer(help="Who receives which event.", no_args_is_help=True)
alerts_app.add_typer(channels_app, name="channels")
alerts_app.add_typer(rules_app, name="rules")

_CHANNEL = ["id", "name", "kind", "target_hint", "is_enabled", "created_at"]
_RULE = [
    "id",
    "event",
    "threshold_percent",
    "channel_name",
    "role",
    "group_id",
    "user_id",
    "quiet_start_hour",
    "quiet_end_hour",
]
_DELIVERY = ["created_at", "kind", "subject", "status", "attempts", "last_error", "delivered_at"]
_ALERT = ["created_at", "event", "threshold_percent", "title"]


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _channel_path(name: str) -> str:
    return f"/api/alerts/channels/{quote(name.strip(), safe='')}"


@channels_app.command("add")
def channel_add(
    kind: Annotated[str, typer.Option("--kind", help="email, slack, teams or webhook.")],
    target: Annotated[
        str | None, typer.Option("--target", help="The email address or webhook URL.")
    ] = None,
    target_env: Annotated[
        str | None,
        typer.Option("--target-env", help="Read the address or URL from this variable instead."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Default: the kind.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a channel; its address or URL is stored sealed and never shown again."""
    if target_env:
        target = os.environ.get(target_env, "").strip() or None
        if target is None:
            fail(f"The environment variable {target_env} is not set or empty.", 2)
    if not target:
        fail("Give --target (or --target-env).", 2)
    payload = {"name": name or kind, "kind": kind, "target": target}
    result = transport.api("POST", "/api/alerts/channels", json=payload)
    show_object(result, as_json=as_json, title=f"Added {result['name']}", fields=_CHANNEL)


@channels_app.command("list")
def channel_list(as_json: JsonOpt = False) -> None:
    """List the channels."""
    show_list(transport.api("GET", "/api/alerts/channels"), as_json=as_json, columns=_CHANNEL)


@channels_app.command("remove")
def channel_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a channel and the rules that name it."""
    transport.api("DELETE", _channel_path(name))
    print(f"Removed {name}.")


def _test(name: str, as_json: bool) -> None:
    result = transport.api("POST", _channel_path(name) + "/test")
    show_object(
        result,
        as_json=as_json,
        title=f"Test message to {name} queued; `spectra alerts history` shows its outcome",
    )


@channels_app.command("test")
def channel_test(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Send a test message to a channel through the outbox."""
    _test(name, as_json)


@alerts_app.command("test")
def send_test(channel: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Send a test message to a channel through the outbox."""
    _test(channel, as_json)


@rules_app.command("add")
def rule_add(
    event: Annotated[str, typer.Option("--event", help="An event name (`spectra alerts events`).")],
    threshold: Annotated[
        int | None, typer.Option("--threshold", help="Budget events: only this percent.")
    ] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="A channel name.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Inboxes of this role.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Inboxes of this group.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="This person's inbox (email).")] = None,
    quiet: Annotated[
        str | None,
        typer.Option(
            "--quiet", help="Quiet hours START-END in the workspace time zone, e.g. 22-7."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a rule: an event (optionally one threshold) to a channel and/or inboxes."""
    payload: dict[str, Any] = {
        "event": event,
        "threshold_percent": threshold,
        "channel": channel,
        "role": role,
        "group": group,
        "user": user,
    }
    if quiet:
        start, _, end = quiet.partition("-")
        if not (start.strip().isdigit() and end.strip().isdigit()):
            fail("--quiet takes two hours, START-END, such as 22-7.", 2)
        payload["quiet_start_hour"] = int(start)
        payload["quiet_end_hour"] = int(end)
    result = transport.api("POST", "/api/alerts/rules", json=payload)
    show_object(result, as_json=as_json, title="Added a rule", fields=_RULE)


@rules_app.command("list")
def rule_list(as_json: JsonOpt = False) -> None:
    """List the rules."""
    show_list(transport.api("GET", "/api/alerts/rules"), as_json=as_json, columns=_RULE)


@rules_app.command("remove")
def rule_remove(rule_id: Annotated[str, typer.Argument()]) -> None:
    """Remove a rule by its id."""
    transport.api("DELETE", f"/api/alerts/rules/{quote(rule_id.strip(), safe='')}")
    print(f"Removed rule {rule_id}.")


@alerts_app.command("events")
def events(as_json: JsonOpt = False) -> None:
    """The event catalogue."""
    show_list(
        transport.api("GET", "/api/alerts/events"),
        as_json=as_json,
        columns=["name", "is_budget", "description"],
    )


@alerts_app.command("history")
def history(
    alerts: Annotated[
        bool, typer.Option("--alerts", help="List raised alerts instead of deliveries.")
    ] = False,
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or failed (deliveries).")
    ] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every delivery with its outcome, newest first (or, with --alerts, the alerts raised)."""
    params: dict[str, Any] = {"limit": limit, "cursor": cursor}
    if alerts:
        page = transport.api("GET", "/api/alerts", params=params)
        show_list(page, as_json=as_json, columns=_ALERT)
        return
    params["status"] = status
    page = transport.api("GET", "/api/alerts/deliveries", params=params)
    show_list(page, as_json=as_json, columns=_DELIVERY)
