"""The per-kind parts of the pool forms: which credential fields and settings each account kind
shows, and the credential they make, in the form the API's `api_key` takes (so the same schema
and service function check it): an API key; Bedrock's `ACCESS_KEY_ID:SECRET[:TOKEN]`; Vertex's
service-account key file (uploaded or pasted); Azure's api-key or Entra ID client credentials
as JSON."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from spectra.console.forms import Form

PROVIDERS = (
    ("anthropic", "Anthropic"),
    ("openai", "OpenAI"),
    ("openai_compatible", "OpenAI-compatible"),
    ("gemini", "Google Gemini API (AI Studio)"),
    ("azure_openai", "Azure OpenAI"),
    ("bedrock", "AWS Bedrock"),
    ("vertex", "Google Vertex AI"),
)
KEY_KINDS = ("anthropic", "openai", "openai_compatible", "gemini", "azure_openai")
SETTINGS = {
    "region": ("bedrock", "vertex"),
    "project": ("vertex",),
    "api_version": ("azure_openai",),
}
SECRET_FIELDS = frozenset(
    {
        "api_key",
        "aws_secret_access_key",
        "aws_session_token",
        "service_account_json",
        "azure_client_secret",
    }
)
"""Never echoed back into a form that failed."""
MAX_KEY_FILE = 64 * 1024


def kind_context() -> dict[str, Any]:
    return {"providers": PROVIDERS, "key_kinds": " ".join(KEY_KINDS)}


async def credential(request: Request, form: Form, provider: str) -> str:
    """The credential the posted form gives for `provider` ('' when none: the schema's rule
    then says what is missing)."""
    if provider == "bedrock":
        parts = [form["aws_access_key_id"], form["aws_secret_access_key"]]
        if form.get("aws_session_token"):
            parts.append(form["aws_session_token"])
        return ":".join(parts) if any(parts) else ""
    if provider == "vertex":
        upload = (await request.form()).get("service_account_file")
        if upload is not None and not isinstance(upload, str) and upload.filename:
            return (await upload.read(MAX_KEY_FILE)).decode("utf-8-sig", errors="replace")
        return form["service_account_json"]
    if provider == "azure_openai" and (form.get("azure_client_id") or form.get("azure_tenant_id")):
        fields = {
            "tenant_id": form["azure_tenant_id"],
            "client_id": form["azure_client_id"],
            "client_secret": form["azure_client_secret"],
        }
        if form.get("azure_authority"):
            fields["authority"] = form["azure_authority"]
        return json.dumps(fields)
    return form["api_key"]


def settings(form: Form) -> dict[str, str | None]:
    """region, project and api_version as posted (None when empty)."""
    return {name: form.get(name) for name in SETTINGS}


def safe_values(form: Form) -> dict[str, str]:
    """The posted values to show again after a refusal: no secret among them."""
    return {k: v for k, v in form.data.items() if k not in SECRET_FIELDS}
