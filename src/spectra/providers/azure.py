"""Azure OpenAI: deployments behind a resource endpoint, an `api-version` query parameter
and the `api-key` header (or an Entra ID bearer token).

Chat Completions go to `/openai/deployments/{deployment}/chat/completions`; Responses to
`/openai/responses` with the deployment as `model`. The deployment of a public model name is
the account's alias for it (Azure names deployments freely).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlencode

from .headers import OPENAI_REQUEST, forward_request_headers
from .types import WireProtocol

DEFAULT_API_VERSION = "2025-04-01-preview"


def request_url(base_url: str, *, protocol: WireProtocol, deployment: str, api_version: str) -> str:
    query = urlencode({"api-version": api_version})
    base = base_url.rstrip("/")
    if protocol is WireProtocol.OPENAI_RESPONSES:
        return f"{base}/openai/responses?{query}"
    if protocol is not WireProtocol.OPENAI_CHAT:
        raise ValueError(f"Azure OpenAI does not serve {protocol.value}")
    return f"{base}/openai/deployments/{quote(deployment, safe='')}/chat/completions?{query}"


def upstream_headers(
    caller_headers: Iterable[tuple[str, str]],
    *,
    api_key: str,
    body_decompressed: bool = False,
    entra_token: bool = False,
) -> list[tuple[str, str]]:
    """The caller's allowed OpenAI headers plus `api-key` (or `Authorization: Bearer` for an
    Entra ID token)."""
    headers = forward_request_headers(
        caller_headers, OPENAI_REQUEST, body_decompressed=body_decompressed
    )
    headers.append(("Authorization", f"Bearer {api_key}") if entra_token else ("api-key", api_key))
    return headers
