"""Upstream URLs from an account's base URL, one rule for the gateway and the probes.

An account's base URL is stored as typed (without a trailing slash). Protocol paths are
written with their `/v1` prefix; when the base URL already ends in `/v1` (the OpenAI SDK
convention, e.g. `https://openrouter.ai/api/v1`) the prefix is not repeated.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise_base_url(raw: str) -> str | None:
    """The base URL without trailing slash, or None when it is not an absolute http(s) URL."""
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    if parts.username or parts.password:
        return None
    return value


def upstream_url(base_url: str, path: str) -> str:
    """`upstream_url("https://api.openai.com/v1", "/v1/models")` -> `https://api.openai.com/v1/models`."""
    base = base_url.rstrip("/")
    if base.endswith("/v1") and path.startswith("/v1/"):
        path = path[3:]
    return base + path
