"""Upstream credentials as `spectra pool add` / `rotate-credential` take them: from environment
variables (and a key file they name) or stdin, never from a flag (a flag would land in the
shell's history and in `ps`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from spectra.cli.output import fail


def key_from_env(var: str) -> str:
    value = os.environ.get(var)
    if not value or not value.strip():
        fail(
            f"The environment variable {var} is not set or empty; export the API key in it first.",
            2,
        )
    return value.strip()


def file_from_env(var: str) -> str:
    path = key_from_env(var)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot read the key file named by {var}: {exc.strerror}.", 2)


def entra_credential(
    tenant: str | None, client: str | None, secret_env: str | None, authority: str | None
) -> str:
    """Entra ID client credentials as the API takes them (JSON; the secret from the env)."""
    if not (tenant and client and secret_env):
        fail("Give all of --azure-tenant-id, --azure-client-id and --azure-client-secret-env.", 2)
    fields = {"tenant_id": tenant, "client_id": client, "client_secret": key_from_env(secret_env)}
    if authority:
        fields["authority"] = authority
    return json.dumps(fields)


def account_credential(
    *,
    api_key_env: str | None,
    aws_access_key_id_env: str | None,
    aws_secret_access_key_env: str | None,
    aws_session_token_env: str | None,
    service_account_file_env: str | None,
    azure_tenant_id: str | None,
    azure_client_id: str | None,
    azure_client_secret_env: str | None,
    azure_authority: str | None,
) -> str:
    """The one credential a new account's options name (which kind follows the options given)."""
    if aws_access_key_id_env or aws_secret_access_key_env:
        if not (aws_access_key_id_env and aws_secret_access_key_env):
            fail("Give both --aws-access-key-id-env and --aws-secret-access-key-env.", 2)
        parts = [key_from_env(aws_access_key_id_env), key_from_env(aws_secret_access_key_env)]
        if aws_session_token_env:
            parts.append(key_from_env(aws_session_token_env))
        return ":".join(parts)
    if service_account_file_env:
        return file_from_env(service_account_file_env)
    if azure_tenant_id or azure_client_id or azure_client_secret_env:
        return entra_credential(
            azure_tenant_id, azure_client_id, azure_client_secret_env, azure_authority
        )
    if api_key_env:
        return key_from_env(api_key_env)
    fail(
        "Give the credential: --api-key-env, the --aws-*-env pair (bedrock), "
        "--service-account-file-env (vertex) or the --azure-* Entra ID trio (azure_openai).",
        2,
    )
