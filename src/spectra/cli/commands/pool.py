"""`spectra pool ...`: add, edit, list, show (the account's state and health: `pool_health`).
Credentials are read from an environment variable or stdin, never a flag."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.credentials import account_credential
from spectra.cli.options import CursorOpt, JsonOpt, LimitOpt, split_list
from spectra.cli.output import fail, show_list, show_object

pool_app = typer.Typer(help="The account pool: upstream provider accounts.", no_args_is_help=True)

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


RegionOpt = Annotated[str | None, typer.Option(help="bedrock, vertex: the region.")]
ProjectOpt = Annotated[str | None, typer.Option(help="vertex: the Google Cloud project.")]
ApiVersionOpt = Annotated[
    str | None, typer.Option("--api-version", help="azure_openai: the api-version.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(pool_app, name="pool")


def _aliases(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        public, sep, upstream = item.partition("=")
        if not sep or not public.strip() or not upstream.strip():
            fail(f"--alias takes PUBLIC=UPSTREAM, not '{item}'.", 2)
        out[public.strip()] = upstream.strip()
    return out


def remote_id(name: str) -> str:
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
    region: RegionOpt = None,
    project: ProjectOpt = None,
    api_version: ApiVersionOpt = None,
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
    credential = account_credential(
        api_key_env=api_key_env,
        aws_access_key_id_env=aws_access_key_id_env,
        aws_secret_access_key_env=aws_secret_access_key_env,
        aws_session_token_env=aws_session_token_env,
        service_account_file_env=service_account_file_env,
        azure_tenant_id=azure_tenant_id,
        azure_client_id=azure_client_id,
        azure_client_secret_env=azure_client_secret_env,
        azure_authority=azure_authority,
    )
    payload: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "base_url": base_url,
        "api_key": credential,
        "region": region,
        "project": project,
        "api_version": api_version,
        "models": split_list(models),
        "aliases": _aliases(alias),
        "priority": priority,
        "weight": weight,
        "max_concurrency": max_concurrency,
        "rpm_cap": rpm,
        "tpm_cap": tpm,
        "monthly_spend_cap": monthly_spend_cap,
        "groups": split_list(groups),
        "tags": split_list(tags),
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
    region: RegionOpt = None,
    project: ProjectOpt = None,
    api_version: ApiVersionOpt = None,
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
        payload["models"] = split_list(models)
    if alias:
        payload["aliases"] = _aliases(alias)
    if groups is not None:
        payload["groups"] = split_list(groups)
    if tags is not None:
        payload["tags"] = split_list(tags)
    result = transport.api("PATCH", f"/api/pool/accounts/{remote_id(name)}", json=payload)
    show_object(result, as_json=as_json, title=f"Updated {result['name']}", fields=_SHOW)


@pool_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only accounts in this state.")] = None,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
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
