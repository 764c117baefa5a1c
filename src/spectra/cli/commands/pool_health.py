"""`spectra pool test | disable | enable | reset | rotate-credential | history | status` (added to
the `pool` noun): an account's state, its probes and the pool's health. A new key is read from an
environment variable or stdin, never a flag."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from spectra.cli import transport
from spectra.cli.commands.pool import pool_app, remote_id
from spectra.cli.credentials import key_from_env
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt
from spectra.cli.output import fail, print_json, show_list, show_object


def register(root: typer.Typer) -> None:
    """The commands attach to the `pool` noun's Typer at import; nothing else to add."""


@pool_app.command("test")
def probe_account(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Send one cheap real request through the account; prints latency and outcome."""
    result = transport.api("POST", f"/api/pool/accounts/{remote_id(name)}/test")
    if as_json:
        print_json(result)
        return
    probe = result["probe"]
    account = result["account"]
    verdict = "ok" if probe["ok"] else f"failed: {probe['outcome']}"
    show_object(
        {
            "account": account["name"],
            "result": verdict,
            "latency_ms": probe["latency_ms"],
            "message": probe["message"] or None,
            "state": account["state"],
        },
        as_json=False,
    )
    if not probe["ok"]:
        raise typer.Exit(10)


def _state_command(name: str, action: str, as_json: bool, reason: str = "") -> None:
    body = {"reason": reason} if action == "disable" else None
    result = transport.api("POST", f"/api/pool/accounts/{remote_id(name)}/{action}", json=body)
    show_object(
        result,
        as_json=as_json,
        title=result["name"],
        fields=["name", "state", "state_reason", "state_changed_at"],
    )


@pool_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (shown in the history).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Stop sending traffic to the account until it is enabled."""
    _state_command(name, "disable", as_json, reason)


@pool_app.command("enable")
def enable(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Return a disabled account to service."""
    _state_command(name, "enable", as_json)


@pool_app.command("reset")
def reset(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Clear cooling, failures and needs-attention: the account is active again."""
    _state_command(name, "reset", as_json)


@pool_app.command("rotate-credential")
def rotate_credential(
    name: Annotated[str, typer.Argument()],
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Environment variable with the new key.")
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the new key from stdin.")] = False,
    probe: Annotated[
        bool, typer.Option("--probe/--no-probe", help="Test the new key at once.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Replace the account's API key (from --api-key-env or stdin, never a flag) and test it."""
    if (api_key_env is None) == (not stdin):
        fail("Give exactly one of --api-key-env VAR or --stdin.", 2)
    key = key_from_env(api_key_env) if api_key_env else sys.stdin.readline().strip()
    if not key:
        fail("No API key was given on stdin.", 2)
    result = transport.api(
        "POST",
        f"/api/pool/accounts/{remote_id(name)}/credential",
        json={"api_key": key, "probe": probe},
    )
    if as_json:
        print_json(result)
        return
    probe_result = result["probe"]
    show_object(
        {
            "account": result["account"]["name"],
            "credential_last4": result["account"]["credential_last4"],
            "probe": None if probe_result is None else probe_result["outcome"],
            "state": result["account"]["state"],
        },
        as_json=False,
    )


@pool_app.command("history")
def history(
    name: Annotated[str, typer.Argument()],
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The account's state changes, newest first, with reasons."""
    page = transport.api(
        "GET",
        f"/api/pool/accounts/{remote_id(name)}/history",
        params={"limit": limit, "cursor": cursor},
    )
    show_list(
        page,
        as_json=as_json,
        columns=["occurred_at", "from_state", "to_state", "reason", "actor_label"],
        title=f"History of {name}",
    )


@pool_app.command("status")
def status(as_json: JsonOpt = False) -> None:
    """Per model: how many accounts serve it, how many are usable, whether the pool is degraded."""
    result = transport.api("GET", "/api/pool/status")
    if as_json:
        print_json(result)
        return
    show_list(
        {"items": result["models"]},
        as_json=False,
        columns=["model", "accounts", "available", "degraded"],
        title="Pool status: degraded" if result["degraded"] else "Pool status: healthy",
    )
