"""`spectra sso ...`: OpenID Connect providers for console sign-in: add, update, list, show, test,
remove.
The client secret is read from an environment variable, never from a flag."""

from __future__ import annotations

import os
from typing import Annotated, Any
from urllib.parse import quote

import typer

from spectra.cli import transport
from spectra.cli.options import JsonOpt, split_list
from spectra.cli.output import fail, show_list, show_object

sso_app = typer.Typer(help="Single sign-on: OpenID Connect providers.", no_args_is_help=True)

_COLUMNS = ["name", "issuer", "client_id", "require_sso", "is_enabled"]
_SHOW = [
    "id",
    "name",
    "issuer",
    "client_id",
    "client_secret_last4",
    "scopes",
    "allowed_domains",
    "groups_claim",
    "group_mappings",
    "require_sso",
    "break_glass_user_id",
    "trust_email",
    "session_ttl_minutes",
    "is_enabled",
]
_TEST = [
    "ok",
    "message",
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "end_session_endpoint",
    "key_ids",
    "supports_pkce_s256",
]


def register(app: typer.Typer) -> None:
    app.add_typer(sso_app, name="sso")


def _path(name: str) -> str:
    return f"/api/sso/providers/{quote(name.strip(), safe='')}"


def _mapping(item: str) -> dict[str, str | None]:
    # Imported here: the schemas pull in pydantic models that `spectra --help` need not load.
    from spectra.users.sso.errors import SsoSettingInvalidError
    from spectra.users.sso.schemas import parse_mapping

    try:
        return parse_mapping(item).model_dump()
    except SsoSettingInvalidError as exc:
        fail(exc.message, 2)


@sso_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The provider's name, shown on its sign-in button.")],
    issuer: Annotated[str, typer.Option("--issuer", help="Issuer URL, e.g. https://acme.okta.com")],
    client_id: Annotated[str, typer.Option("--client-id")],
    client_secret_env: Annotated[
        str, typer.Option("--client-secret-env", help="Environment variable holding the secret.")
    ],
    scopes: Annotated[str, typer.Option(help="Scopes, comma-separated.")] = "openid,email,profile",
    allowed_domains: Annotated[
        str | None, typer.Option(help="Email domains that may sign in, comma-separated.")
    ] = None,
    groups_claim: Annotated[
        str | None, typer.Option(help="The ID token claim listing the user's IdP groups.")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="IDP_GROUP=GROUP:ROLE, e.g. spectra-admins=:admin (repeatable)."
        ),
    ] = None,
    require_sso: Annotated[
        bool, typer.Option("--require-sso", help="Refuse password sign-in (break-glass aside).")
    ] = False,
    break_glass_owner: Annotated[
        str | None, typer.Option(help="Owner email that may still use a password.")
    ] = None,
    trust_email: Annotated[
        bool,
        typer.Option(
            "--trust-email", help="Treat email as verified when no email_verified is sent."
        ),
    ] = False,
    session_minutes: Annotated[
        int | None, typer.Option(help="Console session lifetime after SSO sign-in.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an OpenID Connect provider; redirect URI: <server>/console/sso/<name>/callback."""
    secret = _secret_from(client_secret_env)
    payload: dict[str, Any] = {
        "name": name,
        "issuer": issuer,
        "client_id": client_id,
        "client_secret": secret,
        "scopes": split_list(scopes),
        "allowed_domains": split_list(allowed_domains),
        "groups_claim": groups_claim,
        "group_mappings": [_mapping(m) for m in mapping or []],
        "require_sso": require_sso,
        "break_glass_owner": break_glass_owner,
        "trust_email": trust_email,
        "session_ttl_minutes": session_minutes,
    }
    result = transport.api("POST", "/api/sso/providers", json=payload)
    show_object(result, as_json=as_json, title=f"Added {result['name']}", fields=_SHOW)


def _secret_from(env: str) -> str:
    secret = os.environ.get(env, "").strip()
    if not secret:
        fail(f"The environment variable {env} is not set or empty.", 2)
    return secret


@sso_app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="The provider to change.")],
    issuer: Annotated[str | None, typer.Option("--issuer")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    client_secret_env: Annotated[
        str | None,
        typer.Option("--client-secret-env", help="Environment variable holding a new secret."),
    ] = None,
    scopes: Annotated[str | None, typer.Option(help="Scopes, comma-separated.")] = None,
    allowed_domains: Annotated[
        str | None, typer.Option(help="Email domains, comma-separated ('' = any).")
    ] = None,
    groups_claim: Annotated[str | None, typer.Option(help="'' clears it.")] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="IDP_GROUP=GROUP:ROLE; replaces all mappings (repeatable)."),
    ] = None,
    clear_maps: Annotated[bool, typer.Option("--clear-maps", help="Remove all mappings.")] = False,
    require_sso: Annotated[bool | None, typer.Option("--require-sso/--no-require-sso")] = None,
    break_glass_owner: Annotated[str | None, typer.Option(help="'' clears it.")] = None,
    trust_email: Annotated[bool | None, typer.Option("--trust-email/--no-trust-email")] = None,
    session_minutes: Annotated[
        int | None, typer.Option(help="Session lifetime after SSO sign-in; 0 = server default.")
    ] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a provider's settings; only the options given change. A new client secret is read
    from an environment variable and never shown again."""
    payload: dict[str, Any] = {}
    for key, value in (
        ("issuer", issuer),
        ("client_id", client_id),
        ("require_sso", require_sso),
        ("trust_email", trust_email),
        ("is_enabled", enabled),
    ):
        if value is not None:
            payload[key] = value
    if client_secret_env is not None:
        payload["client_secret"] = _secret_from(client_secret_env)
    if scopes is not None:
        payload["scopes"] = split_list(scopes)
    if allowed_domains is not None:
        payload["allowed_domains"] = split_list(allowed_domains)
    for key, text in (("groups_claim", groups_claim), ("break_glass_owner", break_glass_owner)):
        if text is not None:
            payload[key] = text.strip() or None
    if mapping or clear_maps:
        payload["group_mappings"] = [_mapping(m) for m in mapping or []]
    if session_minutes is not None:
        payload["session_ttl_minutes"] = session_minutes or None
    if not payload:
        fail("Nothing to change: give at least one option (spectra sso update --help).", 2)
    result = transport.api("PATCH", _path(name), json=payload)
    show_object(result, as_json=as_json, title=f"Updated {result['name']}", fields=_SHOW)


@sso_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List the providers."""
    show_list(transport.api("GET", "/api/sso/providers"), as_json=as_json, columns=_COLUMNS)


@sso_app.command("show")
def show(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Show one provider's settings (never its secret)."""
    show_object(transport.api("GET", _path(name)), as_json=as_json, fields=_SHOW)


@sso_app.command("test")
def check_provider(name: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Fetch the provider's discovery document and key set and report; exits 1 when not ok."""
    result = transport.api("POST", _path(name) + "/test")
    show_object(result, as_json=as_json, fields=_TEST)
    if not result.get("ok"):
        raise typer.Exit(1)


@sso_app.command("remove")
def remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a provider; users it created keep their accounts."""
    transport.api("DELETE", _path(name))
    print(f"Removed {name}.")
