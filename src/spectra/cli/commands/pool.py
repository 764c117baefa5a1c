"""`spectra pool ...`: add, edit, list, show, test, disable, enable, reset, rotate-credential,
history, status, alerts. Credentials are read from an environment variable or stdin, never a flag."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.output import fail, print_json, show_list, show_object

pool_app = typer.Typer(help="The account pool: upstream provider accounts.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_COLUMNS = [
    "name",
    "provider",
    "state",
    "state_reason",
    "priority",
    "weight",
    "models",
    "translate",
    "credential_last4",
]
_SHOW = [
    "id",
    "name",
    "provider",
    "base_url",
    "credential_last4",
    "settings",
    "models",
    "aliases",
    "priority",
    "weight",
    "max_concurrency",
    "rpm_cap",
    "tpm_cap",
    "monthly_spend_cap",
    "cost_basis",
    "fixed_monthly_cost",
    "group_ids",
    "tags",
    "notes",
    "translate",
    "state",
    "state_reason",
    "state_changed_at",
    "cooling_until",
    "last_probe_at",
    "last_probe_outcome",
    "last_probe_latency_ms",
    "figures",
]


def register(app: typer.Typer) -> None:
    app.add_typer(pool_app, name="pool")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _aliases(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        public, sep, upstream = item.partition("=")
        if not sep or not public.strip() or not upstream.strip():
            fail(f"--alias takes PUBLIC=UPSTREAM, not '{item}'.", 2)
        out[public.strip()] = upstream.strip()
    return out


def _key_from_env(var: str) -> str:
    value = os.environ.get(var)
    if not value or not value.strip():
        fail(
            f"The environment variable {var} is not set or empty; export the API key in it first.",
            2,
        )
    return value.strip()


def _file_from_env(var: str) -> str:
    path = _key_from_env(var)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot read the key file named by {var}: {exc.strerror}.", 2)


def _entra_credential(
    tenant: str | None, client: str | None, secret_env: str | None, authority: str | None
) -> str:
    """Entra ID client credentials as the API takes them (JSON; the secret from the env)."""
    if not (tenant and client and secret_env):
        fail("Give all of --azure-tenant-id, --azure-client-id and --azure-client-secret-env.", 2)
    fields = {"tenant_id": tenant, "client_id": client, "client_secret": _key_from_env(secret_env)}
    if authority:
        fields["authority"] = authority
    return json.dumps(fields)


def _remote_id(name: str) -> str:
    found = transport.api("GET", f"/api/pool/accounts/by-name/{quote(name, safe='')}")
    return str(found["id"])


@pool_app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="A unique name for the account.")],
    provider: Annotated[
        str,
        typer.Option(
            "--provider",
            help="anthropic | openai | openai_compatible | gemini | bedrock | vertex | azure_openai",
        ),
    ],
    models: Annotated[
        str, typer.Option("--models", help="Model names or glob patterns, comma-separated.")
    ],
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="PUBLIC=UPSTREAM model alias (repeatable).")
    ] = None,
    priority: Annotated[int, typer.Option(help="Priority tier (lowest usable tier first).")] = 0,
    weight: Annotated[int, typer.Option(help="Relative share of traffic within its tier.")] = 100,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Most requests in flight at once.")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute cap.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute cap.")] = None,
    monthly_spend_cap: Annotated[
        str | None, typer.Option(help="Monthly spend cap at list price, e.g. 500.00.")
    ] = None,
    fixed_monthly_cost: Annotated[
        str | None, typer.Option(help="Fixed monthly cost (sets cost basis fixed_monthly).")
    ] = None,
    groups: Annotated[
        str | None,
        typer.Option(help="Dedicate to these groups (comma-separated); default everyone."),
    ] = None,
    tags: Annotated[str | None, typer.Option(help="Tags, comma-separated.")] = None,
    notes: Annotated[str, typer.Option(help="Free-form notes.")] = "",
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="e.g. https://api.anthropic.com; empty: the kind's own."),
    ] = "",
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="Environment variable holding the API key."),
    ] = None,
    region: Annotated[str | None, typer.Option(help="bedrock, vertex: the region.")] = None,
    project: Annotated[str | None, typer.Option(help="vertex: the Google Cloud project.")] = None,
    api_version: Annotated[
        str | None, typer.Option("--api-version", help="azure_openai: the api-version.")
    ] = None,
    aws_access_key_id_env: Annotated[
        str | None, typer.Option("--aws-access-key-id-env", help="bedrock: env var of the key id.")
    ] = None,
    aws_secret_access_key_env: Annotated[
        str | None,
        typer.Option("--aws-secret-access-key-env", help="bedrock: env var of the secret key."),
    ] = None,
    aws_session_token_env: Annotated[
        str | None,
        typer.Option("--aws-session-token-env", help="bedrock: env var of a session token."),
    ] = None,
    service_account_file_env: Annotated[
        str | None,
        typer.Option(
            "--service-account-file-env",
            help="vertex: env var holding the path of the service-account key file.",
        ),
    ] = None,
    azure_tenant_id: Annotated[
        str | None,
        typer.Option("--azure-tenant-id", help="azure_openai with Entra ID: the tenant."),
    ] = None,
    azure_client_id: Annotated[
        str | None,
        typer.Option("--azure-client-id", help="azure_openai with Entra ID: the app's client id."),
    ] = None,
    azure_client_secret_env: Annotated[
        str | None,
        typer.Option(
            "--azure-client-secret-env",
            help="azure_openai with Entra ID: env var holding the app's client secret.",
        ),
    ] = None,
    azure_authority: Annotated[
        str | None,
        typer.Option(
            "--azure-authority",
            help="azure_openai with Entra ID outside the public cloud: the login host.",
        ),
    ] = None,
    translate: Annotated[
        bool,
        typer.Option(
            "--translate/--no-translate",
            help="Serve callers of other protocols (translated) when theirs cannot.",
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add an upstream account; its credential is read from environment variables (and a
    key file), never from a flag."""
    if aws_access_key_id_env or aws_secret_access_key_env:
        if not (aws_access_key_id_env and aws_secret_access_key_env):
            fail("Give both --aws-access-key-id-env and --aws-secret-access-key-env.", 2)
        parts = [_key_from_env(aws_access_key_id_env), _key_from_env(aws_secret_access_key_env)]
        if aws_session_token_env:
            parts.append(_key_from_env(aws_session_token_env))
        credential = ":".join(parts)
    elif service_account_file_env:
        credential = _file_from_env(service_account_file_env)
    elif azure_tenant_id or azure_client_id or azure_client_secret_env:
        credential = _entra_credential(
            azure_tenant_id, azure_client_id, azure_client_secret_env, azure_authority
        )
    elif api_key_env:
        credential = _key_from_env(api_key_env)
    else:
        fail(
            "Give the credential: --api-key-env, the --aws-*-env pair (bedrock), "
            "--service-account-file-env (vertex) or the --azure-* Entra ID trio (azure_openai).",
            2,
        )
    payload: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "base_url": base_url,
        "api_key": credential,
        "region": region,
        "project": project,
        "api_version": api_version,
        "models": _split(models),
        "aliases": _aliases(alias),
        "priority": priority,
        "weight": weight,
        "max_concurrency": max_concurrency,
        "rpm_cap": rpm,
        "tpm_cap": tpm,
        "monthly_spend_cap": monthly_spend_cap,
        "groups": _split(groups),
        "tags": _split(tags),
        "notes": notes,
        "translate": translate,
    }
    if fixed_monthly_cost is not None:
        payload.update(cost_basis="fixed_monthly", fixed_monthly_cost=fixed_monthly_cost)
    result = transport.api("POST", "/api/pool/accounts", json=payload)
    show_object(result, as_json=as_json, title=f"Added {result['name']}", fields=_SHOW)


@pool_app.command("edit")
def edit(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the account.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url")] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="Replace the models served (comma-separated).")
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="Replace aliases: PUBLIC=UPSTREAM (repeatable)."),
    ] = None,
    priority: Annotated[int | None, typer.Option()] = None,
    weight: Annotated[int | None, typer.Option()] = None,
    max_concurrency: Annotated[int | None, typer.Option()] = None,
    rpm: Annotated[int | None, typer.Option("--rpm")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm")] = None,
    monthly_spend_cap: Annotated[str | None, typer.Option()] = None,
    groups: Annotated[
        str | None, typer.Option(help="Replace dedicated groups; '' = everyone.")
    ] = None,
    tags: Annotated[str | None, typer.Option()] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    translate: Annotated[
        bool | None,
        typer.Option(
            "--translate/--no-translate",
            help="Whether it serves callers of other protocols (translated).",
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help="bedrock, vertex: the region.")] = None,
    project: Annotated[str | None, typer.Option(help="vertex: the Google Cloud project.")] = None,
    api_version: Annotated[
        str | None, typer.Option("--api-version", help="azure_openai: the api-version.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an account's settings (only the options given)."""
    payload: dict[str, Any] = {}
    for key, value in (
        ("name", new_name),
        ("base_url", base_url),
        ("priority", priority),
        ("weight", weight),
        ("max_concurrency", max_concurrency),
        ("rpm_cap", rpm),
        ("tpm_cap", tpm),
        ("monthly_spend_cap", monthly_spend_cap),
        ("notes", notes),
        ("translate", translate),
        ("region", region),
        ("project", project),
        ("api_version", api_version),
    ):
        if value is not None:
            payload[key] = value
    if models is not None:
        payload["models"] = _split(models)
    if alias:
        payload["aliases"] = _aliases(alias)
    if groups is not None:
        payload["groups"] = _split(groups)
    if tags is not None:
        payload["tags"] = _split(tags)
    result = transport.api("PATCH", f"/api/pool/accounts/{_remote_id(name)}", json=payload)
    show_object(result, as_json=as_json, title=f"Updated {result['name']}", fields=_SHOW)


@pool_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only accounts in this state.")] = None,
    limit: Annotated[int | None, typer.Option()] = None,
    cursor: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the pool's accounts with their state and why."""
    page = transport.api(
        "GET", "/api/pool/accounts", params={"limit": limit, "cursor": cursor, "state": state}
    )
    show_list(page, as_json=as_json, columns=_COLUMNS, title="Pool accounts")


@pool_app.command("show")
def show(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Show one account: settings, state, last probe and figures (never the credential)."""
    result = transport.api("GET", f"/api/pool/accounts/by-name/{quote(name, safe='')}")
    show_object(result, as_json=as_json, title=result["name"], fields=_SHOW)


@pool_app.command("test")
def probe_account(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Send one cheap real request through the account; prints latency and outcome."""
    result = transport.api("POST", f"/api/pool/accounts/{_remote_id(name)}/test")
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
    result = transport.api("POST", f"/api/pool/accounts/{_remote_id(name)}/{action}", json=body)
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
    key = _key_from_env(api_key_env) if api_key_env else sys.stdin.readline().strip()
    if not key:
        fail("No API key was given on stdin.", 2)
    result = transport.api(
        "POST",
        f"/api/pool/accounts/{_remote_id(name)}/credential",
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
    limit: Annotated[int | None, typer.Option()] = None,
    cursor: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """The account's state changes, newest first, with reasons."""
    page = transport.api(
        "GET",
        f"/api/pool/accounts/{_remote_id(name)}/history",
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
