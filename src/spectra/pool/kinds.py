"""What differs between account kinds: the credential's form, the settings each kind needs
(region, project, api-version), the default base URL. The protocols each speaks are
`state.PROTOCOL_PROVIDERS` (translated traffic: `state.TRANSLATION_TARGETS`).

`anthropic`, `openai`, `openai_compatible`, `gemini` and `azure_openai` take an API key;
`azure_openai` alternatively Entra ID client credentials as JSON (`{"tenant_id", "client_id",
"client_secret", "authority"?}`).
`bedrock` takes an IAM access key: `{"access_key_id", "secret_access_key", "session_token"?}`
as JSON, or `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`. `vertex` takes a
service-account key file's JSON. Each is checked here before it is sealed; the stored form
is normalised (Bedrock keys as JSON) and only its identifier's last four characters show.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from spectra.providers import azure, bedrock, gemini, vertex

from .credentials import last4
from .errors import AccountInvalidError, CredentialMissingError

SETTINGS: dict[str, frozenset[str]] = {
    "bedrock": frozenset({"region"}),
    "vertex": frozenset({"region", "project"}),
    "azure_openai": frozenset({"api_version"}),
}
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_GCP_REGION = re.compile(r"^(global|[a-z]+-[a-z]+\d{1,2})$")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_API_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2}(-preview)?|v1|latest|preview)$")
_AWS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")


@dataclass(frozen=True, slots=True)
class CleanCredential:
    stored: str
    """The plaintext to seal (normalised)."""
    last4: str
    """The last four characters of what identifies it (key, access key id, key id)."""


def clean_credential(kind: str, raw: str) -> CleanCredential:
    """Check a credential by its kind's rule and give its stored form. Idempotent (the stored
    form passes again). Raises `CredentialMissingError` naming what is wrong, never echoing
    the secret."""
    if kind == "bedrock":
        keys = _aws_keys(raw.strip())
        return CleanCredential(keys.to_json(), keys.access_key_id[-4:])
    if kind == "vertex":
        info = _service_account(raw)
        return CleanCredential(json.dumps(info), str(info.get("private_key_id") or "")[-4:])
    if kind == "azure_openai" and azure.is_entra(raw.strip()):
        app = _entra_app(raw.strip())
        return CleanCredential(app.to_json(), app.client_id[-4:])
    key = clean_api_key(raw)
    return CleanCredential(key, last4(key))


def clean_api_key(raw: str) -> str:
    """The rule of the kinds that take a plain API key."""
    key = raw.strip()
    if not key:
        raise CredentialMissingError(
            "The API key is empty; pass the account's upstream API key.", field="api_key"
        )
    if len(key) < 8 or any(c.isspace() for c in key):
        raise CredentialMissingError(
            "That does not look like an API key (too short, or it contains spaces).",
            field="api_key",
        )
    return key


def _aws_keys(raw: str) -> bedrock.AwsKeys:
    try:
        keys = (
            bedrock.AwsKeys.from_json(raw)
            if raw.startswith("{")
            else bedrock.AwsKeys(*raw.split(":", 2))
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CredentialMissingError(
            "A Bedrock credential is an IAM access key: ACCESS_KEY_ID:SECRET_ACCESS_KEY"
            "[:SESSION_TOKEN], or JSON with access_key_id and secret_access_key.",
            field="api_key",
        ) from exc
    if not _AWS_KEY_ID.match(keys.access_key_id):
        raise CredentialMissingError(
            "The access key id must be 20 characters starting with AKIA (or ASIA for "
            "temporary credentials).",
            field="api_key",
        )
    if len(keys.secret_access_key) != 40 or any(c.isspace() for c in keys.secret_access_key):
        raise CredentialMissingError(
            "The secret access key must be 40 characters without spaces.", field="api_key"
        )
    if keys.access_key_id.startswith("ASIA") and not keys.session_token:
        raise CredentialMissingError(
            "Temporary credentials (ASIA...) need their session token as the third part.",
            field="api_key",
        )
    return keys


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TENANT = re.compile(r"^[0-9A-Za-z.-]{1,128}$")
_AUTHORITY = re.compile(r"^(https://)?[A-Za-z0-9.-]+(:\d{1,5})?/?$")


def _entra_app(raw: str) -> azure.EntraApp:
    hint = (
        "Entra ID client credentials are JSON with tenant_id, client_id (a GUID) and "
        "client_secret (and, outside the public cloud, authority)"
    )
    try:
        app = azure.EntraApp.from_json(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise CredentialMissingError(
            f"{hint}; this is not: {_reason(exc)}.", field="api_key"
        ) from exc
    if not _TENANT.match(app.tenant_id):
        raise CredentialMissingError(
            "The tenant id is a GUID or a domain (e.g. contoso.onmicrosoft.com).", field="api_key"
        )
    if not _GUID.match(app.client_id):
        raise CredentialMissingError(f"{hint}; the client id is no GUID.", field="api_key")
    if len(app.client_secret) < 8 or any(c.isspace() for c in app.client_secret):
        raise CredentialMissingError(
            "That does not look like a client secret (too short, or it contains spaces).",
            field="api_key",
        )
    if app.authority and not _AUTHORITY.match(app.authority):
        raise CredentialMissingError(
            "The authority is the cloud's login host over https (e.g. login.microsoftonline.us).",
            field="api_key",
        )
    return app


def _service_account(raw: str) -> dict[str, object]:
    try:
        info = json.loads(raw)
        if not isinstance(info, dict):
            raise ValueError("not an object")
        vertex.service_account_credentials(info)
    except (ValueError, KeyError, TypeError) as exc:
        raise CredentialMissingError(
            "A Vertex credential is a service-account key file (JSON with type "
            "service_account, client_email, private_key and token_uri); this one cannot be "
            f"read: {_reason(exc)}.",
            field="api_key",
        ) from exc
    return info


def _reason(exc: BaseException) -> str:
    """Why a key file failed, without any of its content."""
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    if isinstance(exc, KeyError):
        return f"{exc.args[0]} is missing"
    text = str(exc)
    return (
        text if "PRIVATE KEY" not in text and len(text) < 120 else "the private key is unreadable"
    )


def clean_settings(
    kind: str,
    *,
    region: str | None,
    project: str | None,
    api_version: str | None,
    credential: str,
) -> dict[str, str]:
    """The settings a kind needs, checked; a setting another kind would use is refused."""
    given = {
        k: v.strip()
        for k, v in {"region": region, "project": project, "api_version": api_version}.items()
        if v is not None and v.strip()
    }
    allowed = SETTINGS.get(kind, frozenset())
    extra = sorted(set(given) - allowed)
    if extra:
        raise AccountInvalidError(
            f"A {kind} account takes no {', '.join(extra)}.", field=extra[0], provider=kind
        )
    if kind == "vertex" and "project" not in given:
        project_id = json.loads(credential).get("project_id")
        if isinstance(project_id, str) and project_id:
            given["project"] = project_id
    if kind == "azure_openai":
        given.setdefault("api_version", azure.DEFAULT_API_VERSION)
    missing = sorted(allowed - set(given))
    if missing:
        raise AccountInvalidError(
            f"A {kind} account needs --{missing[0].replace('_', '-')}.",
            field=missing[0],
            provider=kind,
        )
    _check(kind, given)
    return given


def changed_settings(
    kind: str, current: dict[str, str], changes: dict[str, str | None]
) -> dict[str, str]:
    """An account's settings with `changes` applied (an empty value keeps the current one),
    checked by the same rules as when it was added."""
    merged: dict[str, str | None] = dict(current)
    merged.update({k: v for k, v in changes.items() if v is not None and v.strip()})
    return clean_settings(
        kind,
        region=merged.get("region"),
        project=merged.get("project"),
        api_version=merged.get("api_version"),
        credential="{}",
    )


def _check(kind: str, settings: dict[str, str]) -> None:
    region = settings.get("region")
    if region is not None:
        pattern = _AWS_REGION if kind == "bedrock" else _GCP_REGION
        if not pattern.match(region):
            example = "us-east-1" if kind == "bedrock" else "us-east5"
            raise AccountInvalidError(
                f"'{region}' is not a {kind} region (e.g. {example}).", field="region"
            )
    project = settings.get("project")
    if project is not None and not _GCP_PROJECT.match(project):
        raise AccountInvalidError(
            f"'{project}' is not a Google Cloud project id (6-30 lower-case letters, digits, "
            "dashes).",
            field="project",
        )
    version = settings.get("api_version")
    if version is not None and not _API_VERSION.match(version):
        raise AccountInvalidError(
            f"'{version}' is not an Azure OpenAI api-version (e.g. {azure.DEFAULT_API_VERSION}).",
            field="api_version",
        )


def default_base_url(kind: str, settings: dict[str, str]) -> str | None:
    """The endpoint a kind uses when the admin gives none (None: the admin must give it)."""
    if kind == "bedrock":
        return bedrock.endpoint(settings["region"])
    if kind == "vertex":
        return vertex.endpoint(settings["region"])
    if kind == "gemini":
        return gemini.DEFAULT_BASE_URL
    return {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}.get(
        kind
    )
