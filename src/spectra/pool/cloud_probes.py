"""The probe request of each cloud kind: Gemini `GET /v1beta/models`, Azure OpenAI
`GET /openai/models` (with the api-key, or an Entra ID token), Vertex's Claude token counter, or a Gemini model's `countTokens` when the
probed model is one (after the service-account token exchange), and for Bedrock, which has no free call, an InvokeModel of at most one output
token (a few tokens' cost per probe)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from spectra.providers import azure, bedrock, gemini, vertex

from .credentials import Credential

CLOUD_KINDS = frozenset({"gemini", "azure_openai", "bedrock", "vertex"})
_PING = {"max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}


async def cloud_request(
    kind: str, base_url: str, credential: Credential, model: str | None, settings: dict[str, str]
) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    """(method, url, headers, body) of the probe of a `kind` account."""
    base = base_url.rstrip("/")
    if kind == "gemini":
        headers = gemini.upstream_headers([], api_key=credential.reveal())
        return "GET", f"{base}/v1beta/models", headers, None
    if kind == "azure_openai":
        query = urlencode({"api-version": settings.get("api_version", azure.DEFAULT_API_VERSION)})
        secret = credential.reveal()
        headers = azure.upstream_headers([], api_key=secret)
        if azure.is_entra(secret):
            token = await azure.tokens_for(secret).token()
            headers.append(("Authorization", f"Bearer {token}"))
        return "GET", f"{base}/openai/models?{query}", headers, None
    if kind == "vertex":
        token = await vertex.tokens_for(credential.reveal()).token()
        headers = [("Authorization", f"Bearer {token}"), ("content-type", "application/json")]
        project, region = settings["project"], settings["region"]
        if model is not None and vertex.is_gemini(model):
            url = vertex.google_model_url(base, project=project, region=region, model=model)
            body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "ping"}]}]})
            return "POST", f"{url}:countTokens", headers, body.encode()
        url = vertex.count_tokens_url(base, project=project, region=region)
        body = json.dumps(_PING | {"model": vertex.model_id(model or "claude-haiku-4-5")})
        return "POST", url, headers, body.encode()
    region = settings["region"]
    url = bedrock.invoke_url(
        base, bedrock.model_id(model or "claude-haiku-4-5", region=region), stream=False
    )
    body_bytes = bedrock.request_body(_PING)
    keys = bedrock.AwsKeys.from_json(credential.reveal())
    headers = bedrock.signed_headers(
        "POST", url, body_bytes, keys=keys, region=region, stream=False
    )
    return "POST", url, headers, body_bytes
