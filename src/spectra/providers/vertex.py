"""Google Vertex AI: Anthropic models by `:rawPredict` / `:streamRawPredict`, Gemini models by
`:generateContent` / `:streamGenerateContent?alt=sse`.

Claude: the body is Anthropic's Messages body without `model`, with `anthropic_version:
vertex-2023-10-16` (the stream flag stays); the URL names project, region and the Vertex model
id (`claude-sonnet-4-5@20250929`) under `publishers/anthropic`. Gemini: the body is the Gemini
API's, as is (the model is in the URL, under `publishers/google`), and so is the answer. Which
one a model is follows its name (`protocol_of`). The bearer token comes from a service-account
key exchanged by google-auth, cached per account and refreshed before it expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from google.auth import exceptions as google_errors

from spectra.kit.clock import utc_now

from .errors import FailureType, UpstreamFailure

if TYPE_CHECKING:
    from google.oauth2 import service_account

# google-auth's service-account and transport modules (requests, urllib3, ~0.1 s) load with the
# first Vertex account, not with every process that imports the providers.

ANTHROPIC_VERSION = "vertex-2023-10-16"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_MARGIN = timedelta(minutes=5)
MODEL_IDS: dict[str, str] = {
    "claude-opus-4-5": "claude-opus-4-5@20251101",
    "claude-opus-4-1": "claude-opus-4-1@20250805",
    "claude-opus-4": "claude-opus-4@20250514",
    "claude-sonnet-4-5": "claude-sonnet-4-5@20250929",
    "claude-sonnet-4": "claude-sonnet-4@20250514",
    "claude-haiku-4-5": "claude-haiku-4-5@20251001",
    "claude-3-7-sonnet": "claude-3-7-sonnet@20250219",
    "claude-3-5-haiku": "claude-3-5-haiku@20241022",
}
"""Public model name -> Vertex model id; an account's aliases override it."""


GEMINI_PROTOCOL = "gemini_generate_content"
CLAUDE_PROTOCOL = "anthropic_messages"


def model_id(model: str) -> str:
    return MODEL_IDS.get(model, model)


def is_gemini(model: str) -> bool:
    """Whether Vertex serves `model` (an upstream name) as a Google publisher model."""
    return model.startswith(("gemini-", "gemma-"))


def protocol_of(model: str) -> str:
    """The wire protocol a Vertex account speaks for `model` (an upstream name)."""
    return GEMINI_PROTOCOL if is_gemini(model) else CLAUDE_PROTOCOL


def endpoint(region: str) -> str:
    """The regional endpoint (`global` has none of its own)."""
    if region == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{region}-aiplatform.googleapis.com"


def predict_url(base_url: str, *, project: str, region: str, model: str, stream: bool) -> str:
    method = "streamRawPredict" if stream else "rawPredict"
    return (
        f"{base_url.rstrip('/')}/v1/projects/{quote(project, safe='')}/locations/"
        f"{quote(region, safe='')}/publishers/anthropic/models/{quote(model, safe='@')}:{method}"
    )


def generate_url(base_url: str, *, project: str, region: str, model: str, stream: bool) -> str:
    """A Gemini model's `generateContent`, or its SSE stream."""
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return google_model_url(base_url, project=project, region=region, model=model) + f":{method}"


def google_model_url(base_url: str, *, project: str, region: str, model: str) -> str:
    return (
        f"{base_url.rstrip('/')}/v1/projects/{quote(project, safe='')}/locations/"
        f"{quote(region, safe='')}/publishers/google/models/{quote(model, safe='')}"
    )


def count_tokens_url(base_url: str, *, project: str, region: str) -> str:
    """Vertex's token counter for Claude (the model goes in the body)."""
    return predict_url(base_url, project=project, region=region, model="count-tokens", stream=False)


def request_body(body: dict[str, Any]) -> bytes:
    out = {k: v for k, v in body.items() if k != "model"}
    out["anthropic_version"] = ANTHROPIC_VERSION
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()


def service_account_credentials(info: dict[str, Any]) -> service_account.Credentials:
    """google-auth credentials for a service-account key; raises ValueError when the key is
    not one (wrong type, unreadable private key, missing fields)."""
    from google.oauth2 import service_account

    if info.get("type") != "service_account":
        raise ValueError("the key is not a service-account key (type must be service_account)")
    return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call,no-any-return]
        info, scopes=[SCOPE]
    )


_SHARED: dict[str, AccessTokens] = {}


def tokens_for(key_json: str) -> AccessTokens:
    """The shared `AccessTokens` of a stored service-account key (one per key, so every
    request and probe through the account reuses its token)."""
    digest = hashlib.sha256(key_json.encode()).hexdigest()
    tokens = _SHARED.get(digest)
    if tokens is None:
        tokens = _SHARED[digest] = AccessTokens(json.loads(key_json))
    return tokens


class AccessTokens:
    """Bearer tokens of one service account, shared by concurrent requests: refreshed (off
    the event loop: google-auth's transport blocks) only when missing or within
    `REFRESH_MARGIN` of expiry, by one request at a time."""

    def __init__(self, info: dict[str, Any]) -> None:
        self._credentials = service_account_credentials(info)
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        token, expiry = self._credentials.token, self._credentials.expiry
        if not token or expiry is None:
            return False
        return bool(expiry.replace(tzinfo=utc_now().tzinfo) - REFRESH_MARGIN > utc_now())

    async def token(self) -> str:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    await self._refresh()
        return str(self._credentials.token)

    async def _refresh(self) -> None:
        from google.auth.transport.requests import Request

        request = Request()
        try:
            await asyncio.to_thread(self._credentials.refresh, request)
        except google_errors.RefreshError as exc:
            raise UpstreamFailure(
                FailureType.AUTH_FAILED,
                "Google refused the service-account key (token exchange failed)",
                provider_message=str(exc.args[0])[:200] if exc.args else "",
            ) from exc
        except google_errors.TransportError as exc:
            raise UpstreamFailure(
                FailureType.CONNECT_ERROR, "The Google token endpoint could not be reached"
            ) from exc
