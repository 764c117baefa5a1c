"""Azure OpenAI: deployments behind a resource endpoint, an `api-version` query parameter
and the `api-key` header, or an Entra ID bearer token.

Chat Completions go to `/openai/deployments/{deployment}/chat/completions`; Responses to
`/openai/responses` with the deployment as `model`. The deployment of a public model name is
the account's alias for it (Azure names deployments freely).

Entra ID: the account's credential is an app registration's client credentials (`EntraApp`,
stored as JSON, sealed like any credential). azure-identity's `ClientSecretCredential`
exchanges them for a token of scope `cognitiveservices.azure.com`; `EntraTokens` keeps it per
app and fetches the next one `REFRESH_MARGIN` before it expires, one request at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlparse

from spectra.kit.clock import utc_now

from .errors import FailureType, UpstreamFailure
from .headers import OPENAI_REQUEST, forward_request_headers
from .types import WireProtocol

DEFAULT_API_VERSION = "2025-04-01-preview"
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class EntraApp:
    """An Entra ID app registration's client credentials (and its cloud's authority host)."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority: str = ""
    """Empty: the public cloud (login.microsoftonline.com); else e.g. login.microsoftonline.us."""

    @classmethod
    def from_json(cls, raw: str) -> EntraApp:
        """Raises ValueError / KeyError / TypeError when `raw` is not one."""
        data: dict[str, Any] = json.loads(raw)
        fields = {k: data[k] for k in ("tenant_id", "client_id", "client_secret")}
        fields["authority"] = data.get("authority") or ""
        if not all(isinstance(v, str) for v in fields.values()):
            raise TypeError("each field is a string")
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v})

    def authority_url(self) -> str | None:
        if not self.authority:
            return None
        parsed = urlparse(self.authority if "//" in self.authority else f"//{self.authority}")
        return f"https://{parsed.netloc}"


def is_entra(credential: str) -> bool:
    """Whether an azure_openai account's stored credential is Entra client credentials (JSON)
    rather than an API key."""
    return credential.startswith("{")


_SHARED: dict[str, EntraTokens] = {}


def tokens_for(credential: str) -> EntraTokens:
    """The shared `EntraTokens` of a stored Entra credential (one per app)."""
    digest = hashlib.sha256(credential.encode()).hexdigest()
    tokens = _SHARED.get(digest)
    if tokens is None:
        tokens = _SHARED[digest] = EntraTokens(EntraApp.from_json(credential))
    return tokens


class EntraTokens:
    """Bearer tokens of one app registration, shared by concurrent requests."""

    def __init__(self, app: EntraApp) -> None:
        self._app = app
        self._token = ""
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        margin = REFRESH_MARGIN.total_seconds()
        return bool(self._token) and self._expires_on - margin > utc_now().timestamp()

    async def token(self) -> str:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    await self._refresh()
        return self._token

    async def _refresh(self) -> None:
        # Imported here: azure-identity (and azure-core) load only where Entra is used.
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
        from azure.identity.aio import ClientSecretCredential

        app = self._app
        options: dict[str, Any] = {}
        if app.authority_url():
            options["authority"] = app.authority_url()
        if os.environ.get("SSL_CERT_FILE"):  # a private CA bundle, as for other TLS clients
            options["connection_verify"] = os.environ["SSL_CERT_FILE"]
        started = utc_now().timestamp()
        try:
            # A credential per exchange: its HTTP session belongs to this event loop only.
            async with ClientSecretCredential(
                app.tenant_id, app.client_id, app.client_secret, **options
            ) as credential:
                access = await credential.get_token(ENTRA_SCOPE)
        except ClientAuthenticationError as exc:
            raise UpstreamFailure(
                FailureType.AUTH_FAILED,
                "Entra ID refused the app's client credentials (token request failed)",
                provider_message=_first_line(exc.message),
            ) from exc
        except ServiceRequestError as exc:
            raise UpstreamFailure(
                FailureType.CONNECT_ERROR, "The Entra ID token endpoint could not be reached"
            ) from exc
        # azure-identity stamps `expires_on` by the real time; keep the lifetime on ours.
        lifetime = max(access.expires_on - time.time(), 0.0)
        self._token, self._expires_on = access.token, started + lifetime


def _first_line(message: object) -> str:
    return str(message or "").splitlines()[0][:200] if message else ""


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
    Entra ID token); none for an Entra credential (`is_entra`), whose token is added later."""
    headers = forward_request_headers(
        caller_headers, OPENAI_REQUEST, body_decompressed=body_decompressed
    )
    if entra_token:
        headers.append(("Authorization", f"Bearer {api_key}"))
    elif not is_entra(api_key):
        headers.append(("api-key", api_key))
    return headers
